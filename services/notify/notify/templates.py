"""SMS texts in Chinese, one template per kind, with checked variables.

Texts stay neutral (no amounts, no lending words, no ID numbers): providers refuse
finance-related templates, and the details belong in the app. A name is always
masked (张*), and the only link is the constant landing page ``{public_url}/s``.
"""

import re
import string
from collections.abc import Callable, Mapping
from datetime import date

from jietiao_shared.contracts import SmsKind
from jietiao_shared.personal import mask_name

LINK = "link"

TEMPLATES: dict[str, str] = {
    "login_code": "您的登录验证码为{code}，5分钟内有效。",
    "invitation": "{initiator}邀请您签署一份电子文件，请登录查看：{link}",
    "signed": "您与{other}的电子文件已签署完成，请登录查看：{link}",
    "refused": "{other}已拒绝签署您发起的电子文件，该文件已关闭。详情：{link}",
    "withdrawn": "{initiator}已撤回邀请您签署的电子文件，您无需再处理。",
    "expired": "您发起的电子文件未在有效期内完成签署，已自动关闭。",
    "void_requested": "{other}申请作废与您签署的电子文件，请登录处理：{link}",
    "void_cancelled": "对方已撤回作废申请，您的电子文件继续有效。",
    "void_refused": "对方未同意您的作废申请，电子文件继续有效。详情：{link}",
    "voided": "您参与的电子文件已作废，详情请登录查看：{link}",
    "repayment_due": "您有一份电子文件约定的事项于{due_date}到期，请登录查看：{link}",
}


class TemplateError(ValueError):
    """The variables given do not fit the template of a kind."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


def _code(value: str) -> str:
    if not re.fullmatch(r"\d{4,8}", value):
        raise TemplateError("variable_invalid", "code must be 4 to 8 digits")
    return str(value)


def _name(value: str) -> str:
    name = value.strip()
    if not 1 <= len(name) <= 30 or re.search(r"[\d/:.@]", name):
        raise TemplateError("variable_invalid", "a name must be a short plain name")
    return mask_name(name)


def _due_date(value: str) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise TemplateError("variable_invalid", "due_date must be YYYY-MM-DD") from None
    return f"{day.year}年{day.month}月{day.day}日"


VARIABLES: dict[str, Callable[[str], str]] = {
    "code": _code,
    "initiator": _name,
    "other": _name,
    "due_date": _due_date,
}


def variables(kind: str) -> frozenset[str]:
    """The variables the template of ``kind`` needs from its sender."""
    if kind not in TEMPLATES:
        raise TemplateError("kind_unknown", f"no template for kind {kind!r}")
    fields = {f for _, f, _, _ in string.Formatter().parse(TEMPLATES[kind]) if f}
    return frozenset(fields - {LINK})


def _checked(kind: str, params: Mapping[str, str]) -> dict[str, str]:
    """The rendered value of each variable of ``kind``; raise on missing or odd ones."""
    needed = variables(kind)
    missing = needed - params.keys()
    unknown = params.keys() - needed
    if missing:
        raise TemplateError("variable_missing", ", ".join(sorted(missing)))
    if unknown:
        raise TemplateError("variable_unknown", ", ".join(sorted(unknown)))
    return {name: VARIABLES[name](params[name]) for name in needed}


def render(kind: SmsKind | str, params: Mapping[str, str], landing_url: str) -> str:
    """The text of one SMS; :class:`TemplateError` on missing or odd variables."""
    values = _checked(kind, params)
    return TEMPLATES[kind].format(**values, link=landing_url)


def provider_params(kind: SmsKind | str, params: Mapping[str, str]) -> list[str]:
    """The variable values in the order the template uses them (a provider's param set)."""
    values = _checked(kind, params)
    order = [f for _, f, _, _ in string.Formatter().parse(TEMPLATES[kind]) if f and f != LINK]
    return [values[name] for name in order]
