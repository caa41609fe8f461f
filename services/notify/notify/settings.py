"""Settings of the notify service."""

from datetime import time
from typing import Literal

from jietiao_shared.wechat import WeChatSettings
from pydantic import Field


class NotifySettings(WeChatSettings):
    """SMS delivery, share links, WeChat and repayment reminders."""

    service_name: str = "notify"
    http_port: int = 8104
    public_url: str = "http://127.0.0.1:8100"
    sms_provider: Literal["local", "tencent"] = "local"
    sms_max_attempts: int = 5
    sms_poll_seconds: float = 0.3
    share_link_days: int = 7
    reminder_local_time: time = time(9, 0)
    reminder_poll_seconds: float = 1.0
    # An extra reminder this many days before each due date; None: only on the day.
    reminder_early_days: int | None = None

    # Tencent Cloud (JIETIAO_SMS_PROVIDER=tencent); the endpoint is for tests only.
    tencent_secret_id: str = Field(default="", repr=False)
    tencent_secret_key: str = Field(default="", repr=False)
    tencent_sms_host: str = "sms.tencentcloudapi.com"
    tencent_sms_endpoint: str = ""
    tencent_sms_region: str = "ap-guangzhou"
    tencent_sms_sdk_app_id: str = ""
    tencent_sms_sign_name: str = ""
    # SMS kind -> approved template id, e.g. {"login_code": "1234567", ...}
    tencent_sms_template_ids: dict[str, str] = Field(default_factory=dict)
    tencent_timeout_seconds: float = 5.0

    # WeChat mini-program (app id, secret: WeChatSettings): the page a QR code opens.
    wechat_share_page: str = "pages/share/index"
    wechat_env_version: Literal["release", "trial", "develop"] = "release"

    @property
    def landing_url(self) -> str:
        """The constant link every SMS carries; the page asks for a fresh link."""
        return self.public_url.rstrip("/") + "/s"
