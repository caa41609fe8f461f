"""The one-year LPR table and the 4x interest cap."""

from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from agreements.domain.lpr import (
    LprError,
    LprPublication,
    interest_cap_percent,
    load_lpr_table,
    parse_lpr_csv,
)

# The table in DOMAIN.md: publication, 1Y LPR, cap (4x).
DOMAIN_TABLE = [
    ("2019-08-20", "4.25", "17.00"),
    ("2019-09-20", "4.20", "16.80"),
    ("2019-11-20", "4.15", "16.60"),
    ("2020-02-20", "4.05", "16.20"),
    ("2020-04-20", "3.85", "15.40"),
    ("2021-12-20", "3.80", "15.20"),
    ("2022-01-20", "3.70", "14.80"),
    ("2022-08-22", "3.65", "14.60"),
    ("2023-06-20", "3.55", "14.20"),
    ("2023-08-21", "3.45", "13.80"),
    ("2024-07-22", "3.35", "13.40"),
    ("2024-10-21", "3.10", "12.40"),
    ("2025-05-20", "3.00", "12.00"),
]


def test_packaged_table_holds_every_change_in_the_domain_table() -> None:
    publications = load_lpr_table().publications
    changes = [publications[0]] + [
        later
        for earlier, later in pairwise(publications)
        if later.rate_percent != earlier.rate_percent
    ]
    assert [(p.published_on.isoformat(), str(p.rate_percent)) for p in changes] == [
        (day, rate) for day, rate, _ in DOMAIN_TABLE
    ]


@pytest.mark.parametrize(("day", "rate", "cap"), DOMAIN_TABLE)
def test_each_publication_is_in_force_from_its_day(day: str, rate: str, cap: str) -> None:
    table = load_lpr_table()
    in_force = table.rate_in_force(date.fromisoformat(day))
    assert in_force.rate_percent == Decimal(rate)
    assert in_force.published_on == date.fromisoformat(day)
    assert table.cap_in_force(date.fromisoformat(day)) == Decimal(cap)
    assert interest_cap_percent(Decimal(rate)) == Decimal(cap)


def test_the_rate_holds_until_the_next_publication() -> None:
    table = load_lpr_table()
    rate, published_on, beyond = table.rate_in_force(date(2022, 8, 21))
    assert (rate, published_on, beyond) == (Decimal("3.70"), date(2022, 1, 20), False)
    assert table.rate_in_force(date(2022, 8, 22)).rate_percent == Decimal("3.65")
    assert table.rate_in_force(date(2021, 6, 1)).rate_percent == Decimal("3.85")
    assert table.cap_in_force(date(2025, 12, 1)) == Decimal("12.00")


def test_before_the_first_publication_there_is_no_rate() -> None:
    with pytest.raises(LprError) as refused:
        load_lpr_table().rate_in_force(date(2019, 8, 19))
    assert refused.value.code == "lpr_unavailable"


SMALL = "published_on,rate_percent\n2025-05-20,3.00\n2025-06-20,3.00\n"


@pytest.mark.parametrize(
    ("loan_date", "beyond"),
    [
        (date(2025, 6, 20), False),
        (date(2025, 7, 19), False),  # the July publication was not yet due
        (date(2025, 7, 20), True),  # the July publication is missing from the table
        (date(2026, 1, 1), True),
    ],
)
def test_beyond_last_entry_flags_a_table_that_may_be_stale(loan_date: date, beyond: bool) -> None:
    in_force = parse_lpr_csv(SMALL).rate_in_force(loan_date)
    assert in_force.beyond_last_entry is beyond
    assert in_force.published_on == date(2025, 6, 20)
    assert in_force.rate_percent == Decimal("3.00")


def test_a_table_can_be_loaded_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "lpr.csv"
    path.write_text("\ufeffpublished_on,rate_percent\r\n2030-01-20,2.50\r\n\r\n")
    table = load_lpr_table(path)
    assert table.publications == (LprPublication(date(2030, 1, 20), Decimal("2.50")),)
    assert table.cap_in_force(date(2030, 2, 1)) == Decimal("10.00")
    assert load_lpr_table(str(path)) == table


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "lpr_table_header"),
        ("date,rate\n2025-05-20,3.00\n", "lpr_table_header"),
        ("published_on,rate_percent\n", "lpr_table_empty"),
        ("published_on,rate_percent\n2025-13-20,3.00\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-05-20,abc\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-05-20\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-05-20,3.00,x\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-05-20,NaN\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-05-20,-1\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-05-20,0\n", "lpr_table_row"),
        ("published_on,rate_percent\n2025-06-20,3\n2025-05-20,3\n", "lpr_table_order"),
        ("published_on,rate_percent\n2025-05-20,3\n2025-05-20,3\n", "lpr_table_order"),
    ],
)
def test_malformed_tables_are_refused(text: str, code: str) -> None:
    with pytest.raises(LprError) as refused:
        parse_lpr_csv(text)
    assert refused.value.code == code
    assert refused.value.message
