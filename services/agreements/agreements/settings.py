"""Settings of the agreements service."""

from decimal import Decimal
from functools import lru_cache

from jietiao_shared.settings import ServiceSettings


class AgreementsSettings(ServiceSettings):
    """IOU limits, deadlines and where the LPR table lives."""

    service_name: str = "agreements"
    http_port: int = 8101
    notice_version: str = "2026-01"
    max_principal_yuan: Decimal = Decimal("10000000")
    loan_date_past_tolerance_days: int = 30
    unsigned_expiry_hours: int = 7 * 24
    expiry_sweep_seconds: float = 30.0
    stuck_after_seconds: float = 300.0
    stuck_sweep_seconds: float = 30.0
    void_answer_hours: float = 0.0
    """Hours the other party has to answer a void request; 0 means no deadline."""
    lpr_table_path: str | None = None
    day_count: str = "actual/365"
    purpose_max_length: int = 200


@lru_cache(maxsize=1)
def get_settings() -> AgreementsSettings:
    """The settings of this process, read once from the environment."""
    return AgreementsSettings()
