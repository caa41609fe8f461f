"""Structured logging with context ids and a last line of defence against personal data.

Every record carries the service name and, when known, the agreement, message and
correlation ids of the work in progress (set through :func:`bind`). Phone numbers
and resident ID numbers are masked in the final text even if a caller forgot to.
"""

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from . import personal, telemetry

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "jietiao_log_context", default=MappingProxyType({})
)


def redact(text: str) -> str:
    """Mask anything shaped like a resident ID number or a mainland mobile number.

    The masking policy itself is :func:`jietiao_shared.personal.redact`.
    """
    return personal.redact(text)


@contextmanager
def bind(**ids: str | None) -> Iterator[None]:
    """Attach ids (agreement_id, message_id, ...) to every log line in this block."""
    merged = {**_context.get(), **{k: str(v) for k, v in ids.items() if v}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    """The ids bound to the work in progress."""
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with context ids and masked personal data."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
            **_context.get(),
        }
        trace_id = telemetry.current_trace_id()
        if trace_id:
            line["trace_id"] = trace_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update({k: redact(str(v)) for k, v in extra.items()})
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, masked the same way."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in _context.get().items())
        text = f"{record.levelname:<7} {record.name}: {record.getMessage()} {ids}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return redact(text.rstrip())


class FetchTimeoutFilter(logging.Filter):
    """Turns FastStream's traceback for an idle pull timing out into one quiet line.

    nats-py can raise the builtin ``TimeoutError`` from an idle fetch where FastStream
    expects its own subclass; FastStream then logs a traceback at ERROR and restarts
    the consumer task. Nothing is lost, so it is logged at DEBUG without the trace.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, TimeoutError) and "raised an exception" in str(record.msg):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg, record.args, record.exc_info = "idle pull timed out; restarted", (), None
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route all logging to stdout in the chosen format."""
    handler = logging.StreamHandler(sys.stdout)
    formatter: logging.Formatter = JsonFormatter(service) if fmt == "json" else TextFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("jietiao.bus").addFilter(FetchTimeoutFilter())
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
