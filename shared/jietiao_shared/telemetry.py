"""Traces that follow one IOU across HTTP calls and the bus.

Trace context travels as W3C ``traceparent`` headers: the gateway injects it into
its calls to the services, a service stores it with each outbox row so that the
relay publishes it with the message, and a consumer continues the trace from the
message's headers. Spans are exported by configuration (``JIETIAO_OTEL_EXPORTER``):
``otlp`` (to ``JIETIAO_OTEL_ENDPOINT``), ``file`` (JSON lines, one file per
service, used by the tests), ``console``, or ``none`` (ids still made, so logs
carry a trace id, but nothing exported).
"""

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind

_configured = False


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans."""
        lines = [json.dumps(_as_dict(s), ensure_ascii=False) for s in spans]
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


def _as_dict(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "service": (span.resource.attributes.get("service.name") if span.resource else None),
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_id": f"{parent.span_id:016x}" if parent else None,
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "attributes": dict(span.attributes or {}),
    }


def configure(
    service: str, exporter: str = "none", endpoint: str | None = None, file: str | None = None
) -> None:
    """Install this process's tracer provider (once)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"jietiao-{service}"}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    elif exporter == "file":
        path = Path((file or "spans-{service}.jsonl").replace("{service}", service))
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    """The platform's tracer."""
    return trace.get_tracer("jietiao")


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context to outgoing headers; returns them."""
    propagate.inject(headers)
    return headers


@contextmanager
def continued(
    name: str, headers: Mapping[str, str] | None, kind: SpanKind, **attributes: Any
) -> Iterator[Span]:
    """A span continuing the trace carried by ``headers`` (or a new trace)."""
    parent = propagate.extract(dict(headers or {}))
    token = context.attach(parent)
    try:
        with tracer().start_as_current_span(name, kind=kind) as span:
            for key, value in attributes.items():
                if value is not None:
                    span.set_attribute(key, str(value))
            yield span
    finally:
        context.detach(token)


def current_trace_id() -> str | None:
    """The id of the trace in progress, if any."""
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None
