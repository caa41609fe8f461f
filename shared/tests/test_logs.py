"""Logs carry context ids and never personal data."""

import json
import logging

from jietiao_shared import logs


def test_phone_and_id_numbers_are_masked_in_any_text() -> None:
    text = logs.redact("user +8613812345678 id 11010519491231002X and 13900001111")
    assert "13812345678" not in text and "11010519491231002X" not in text
    assert "+86138****5678" in text and "110***********002X" in text
    assert "139****1111" in text


def test_json_lines_carry_bound_ids_and_mask_personal_data() -> None:
    formatter = logs.JsonFormatter("agreements")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sms to %s", ("13812345678",), None)
    with logs.bind(agreement_id="a-1", message_id="m-1"):
        line = json.loads(formatter.format(record))
    assert line["service"] == "agreements"
    assert line["agreement_id"] == "a-1" and line["message_id"] == "m-1"
    assert line["msg"] == "sms to 138****5678"


def test_an_idle_fetch_timeout_is_demoted_to_a_quiet_line() -> None:
    try:
        raise TimeoutError
    except TimeoutError:
        import sys

        record = logging.LogRecord(
            "jietiao.bus",
            logging.ERROR,
            __file__,
            1,
            "Task-3 raised an exception, retrying",
            (),
            sys.exc_info(),
        )
    keep = logs.FetchTimeoutFilter().filter(record)
    assert record.levelno == logging.DEBUG and record.exc_info is None
    assert keep is logging.getLogger().isEnabledFor(logging.DEBUG)
