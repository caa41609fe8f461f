"""Settings of the agreements service."""

import logging
from decimal import Decimal
from functools import lru_cache

from jietiao_shared.crypto import FieldCipher, new_data_key, new_lookup_key
from jietiao_shared.settings import ServiceSettings
from pydantic import Field

log = logging.getLogger(__name__)


class AgreementsSettings(ServiceSettings):
    """IOU limits, deadlines, where the LPR table lives, and the data keys."""

    service_name: str = "agreements"
    http_port: int = 8101
    notice_version: str = "2026-01"
    max_principal_yuan: Decimal = Decimal("10000000")
    loan_date_past_tolerance_days: int = 30
    loan_date_future_tolerance_days: int = 180
    """How far ahead a loan date may be: an IOU records a loan made now or soon."""
    unsigned_expiry_hours: int = 7 * 24
    expiry_sweep_seconds: float = 30.0
    stuck_after_seconds: float = 300.0
    stuck_sweep_seconds: float = 30.0
    void_answer_hours: float = 0.0
    """Hours the other party has to answer a void request; 0 means no deadline."""
    lpr_table_path: str | None = None
    day_count: str = "actual/365"
    """Day count of interest by days (lump sums over broken months, overdue interest):
    "actual/365" (default, what consumer IOU apps print), "actual/360" or "30/360"."""
    purpose_max_length: int = 200
    capitals_optional_zero: bool = True
    """Capital numerals: write the 零 the bank rules leave free (the 万/亿 or 元 digit
    is 0 and the next digit is not): 1680.32 → 壹仟陆佰捌拾元零叁角贰分. Default: on."""
    capitals_zheng_after_jiao: bool = False
    """Capital numerals: end an amount whose last digit is 角 with 整 (伍角整).
    Default: off, as the bank rules write it (伍角)."""
    data_keys: str = Field(default="", repr=False)
    """``JIETIAO_DATA_KEYS``: ``kid:base64key,...`` (AES-256-GCM, 32-byte keys). The
    first encrypts new values, all decrypt. Empty: a throw-away key for this process
    only (logged as a warning; what it wrote is unreadable after a restart)."""
    lookup_key: str = Field(default="", repr=False)
    """``JIETIAO_LOOKUP_KEY``: base64 of at least 32 bytes, the HMAC-SHA256 key of the
    lookup hashes of phones and ID numbers. Empty: a throw-away key, as above."""


@lru_cache(maxsize=1)
def get_settings() -> AgreementsSettings:
    """The settings of this process, read once from the environment."""
    return AgreementsSettings()


@lru_cache(maxsize=4)
def _cipher(data_keys: str, lookup_key: str) -> FieldCipher:
    if not data_keys or not lookup_key:
        log.warning(
            "JIETIAO_DATA_KEYS or JIETIAO_LOOKUP_KEY is not set: personal data is encrypted"
            " with a throw-away key of this process and cannot be read after a restart"
        )
    return FieldCipher.from_config(
        data_keys or new_data_key("ephemeral"), lookup_key or new_lookup_key()
    )


def get_cipher() -> FieldCipher:
    """The cipher of personal data at rest, from this process's settings."""
    settings = get_settings()
    return _cipher(settings.data_keys, settings.lookup_key)
