"""Mini-program login: the client's one-use code becomes the platform's own session.

A person first logs in with a phone number and a one-time code, then binds the
mini-program (``POST /auth/wechat/bind``): WeChat's ``jscode2session`` turns the
client's code into the app's openid, which is bound to that phone-verified account.
From then on ``POST /auth/wechat/sessions`` with a fresh code is enough. The WeChat
session key never leaves the server and is not stored.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from jietiao_shared.auth import CurrentCaller
from jietiao_shared.errors import ApiError
from jietiao_shared.wechat import WeChatClient, WeChatError
from pydantic import BaseModel, Field
from sqlalchemy import text

from .tokens import issue_token

router = APIRouter(tags=["auth"])

CODE_REFUSED = frozenset({40029, 40163, 40226})


class WeChatCode(BaseModel):
    """The one-use code from the mini-program's ``wx.login``."""

    code: str = Field(min_length=1, max_length=128)


async def _openid(request: Request, code: str) -> str:
    client: WeChatClient | None = request.app.state.wechat
    if client is None:
        raise ApiError(503, "wechat_not_configured", "未开通微信小程序登录")
    try:
        return (await client.code_to_session(code)).openid
    except WeChatError as exc:
        if exc.errcode in CODE_REFUSED:
            raise ApiError(400, "wechat_code_invalid", "微信登录凭证无效或已使用，请重试") from exc
        raise ApiError(503, "wechat_unavailable", "微信服务暂时不可用，请稍后重试") from exc


@router.post("/auth/wechat/bind")
async def bind(body: WeChatCode, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """Bind the mini-program user to the caller's phone-verified account."""
    openid = await _openid(request, body.code)
    async with request.app.state.runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO wechat_bindings (openid, account_id) VALUES (:o, :a)"
                " ON CONFLICT (openid) DO NOTHING"
            ),
            {"o": openid, "a": caller.account_id},
        )
        owner = await conn.scalar(
            text("SELECT account_id FROM wechat_bindings WHERE openid = :o"), {"o": openid}
        )
    if str(owner) != caller.account_id:
        raise ApiError(409, "wechat_bound_elsewhere", "该微信已绑定其他手机号")
    return {"bound": True}


@router.post("/auth/wechat/sessions")
async def login(body: WeChatCode, request: Request) -> dict[str, Any]:
    """Log in from the mini-program with a fresh code, once bound."""
    openid = await _openid(request, body.code)
    async with request.app.state.runtime.engine.connect() as conn:
        account = (
            await conn.execute(
                text(
                    "SELECT a.id, a.phone FROM wechat_bindings w JOIN accounts a"
                    " ON a.id = w.account_id WHERE w.openid = :o"
                ),
                {"o": openid},
            )
        ).first()
    if account is None:
        raise ApiError(404, "wechat_not_bound", "请先用手机号登录，再绑定微信")
    settings = request.app.state.settings
    account_id = str(uuid.UUID(str(account.id)))
    token = issue_token(
        request.app.state.keys,
        account_id=account_id,
        phone=account.phone,
        ttl_seconds=settings.token_ttl_seconds,
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": settings.token_ttl_seconds,
        "account_id": account_id,
    }
