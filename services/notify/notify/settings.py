"""Settings of the notify service."""

from datetime import time
from typing import Literal

from jietiao_shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """SMS delivery, share links and repayment reminders."""

    service_name: str = "notify"
    http_port: int = 8104
    public_url: str = "http://127.0.0.1:8100"
    sms_provider: Literal["local"] = "local"
    sms_max_attempts: int = 5
    sms_poll_seconds: float = 0.3
    share_link_days: int = 7
    reminder_local_time: time = time(9, 0)
    reminder_poll_seconds: float = 1.0

    @property
    def landing_url(self) -> str:
        """The constant link every SMS carries; the page asks for a fresh link."""
        return self.public_url.rstrip("/") + "/s"
