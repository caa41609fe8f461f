"""Settings of the agreements service."""

from decimal import Decimal

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
    lpr_table_path: str | None = None
    day_count: str = "actual/365"
    purpose_max_length: int = 200
