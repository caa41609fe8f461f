"""Every SMS kind renders a neutral Chinese text from checked variables."""

import re
from typing import get_args

import pytest
from jietiao_shared.contracts import SmsKind
from notify.templates import TEMPLATES, TemplateError, render, variables

LANDING = "http://127.0.0.1:8100/s"

VALID = {
    "login_code": {"code": "123456"},
    "invitation": {"initiator": "张*"},
    "signed": {"other": "李*"},
    "refused": {"other": "李*"},
    "withdrawn": {"initiator": "张*"},
    "expired": {},
    "void_requested": {"other": "王*"},
    "void_cancelled": {},
    "void_refused": {},
    "voided": {},
    "repayment_due": {"due_date": "2027-01-04"},
}


def test_every_kind_of_the_contract_has_a_template() -> None:
    assert set(TEMPLATES) == set(get_args(SmsKind))


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_kind_renders_with_its_variables(kind: str) -> None:
    text = render(kind, VALID[kind], LANDING)

    assert "{" not in text and "}" not in text
    assert not re.search(r"\d{11}", text)


def test_login_code_text_is_exact() -> None:
    assert render("login_code", {"code": "042817"}, LANDING) == (
        "您的登录验证码为042817，5分钟内有效。"
    )


def test_a_full_name_is_masked() -> None:
    text = render("signed", {"other": "欧阳娜娜"}, LANDING)

    assert "欧***" in text
    assert "娜娜" not in text


def test_the_only_link_is_the_constant_landing_page() -> None:
    text = render("invitation", {"initiator": "张*"}, LANDING)

    assert text.endswith(LANDING)
    assert text.count("http") == 1


def test_repayment_due_prints_the_date_in_chinese() -> None:
    text = render("repayment_due", {"due_date": "2027-01-04"}, LANDING)

    assert "2027年1月4日" in text
    assert "还款" not in text and "元" not in text


def test_variables_name_what_a_sender_must_give() -> None:
    assert variables("invitation") == {"initiator"}
    assert variables("expired") == frozenset()


@pytest.mark.parametrize(
    ("kind", "params", "code"),
    [
        ("login_code", {}, "variable_missing"),
        ("login_code", {"code": "12ab"}, "variable_invalid"),
        ("login_code", {"code": "1234", "extra": "x"}, "variable_unknown"),
        ("invitation", {"initiator": "张三", "role": "出借人"}, "variable_unknown"),
        ("signed", {"other": "http://evil.example"}, "variable_invalid"),
        ("repayment_due", {"due_date": "2027-02-30"}, "variable_invalid"),
        ("birthday", {}, "kind_unknown"),
    ],
)
def test_bad_variables_are_refused(kind: str, params: dict[str, str], code: str) -> None:
    with pytest.raises(TemplateError) as refused:
        render(kind, params, LANDING)

    assert refused.value.code == code
