"""One trace follows an IOU from the gateway through agreements to documents."""

import json
from pathlib import Path
from typing import Any

import pytest
from jietiao_stack.client import JietiaoApi
from jietiao_stack.stack import Stack
from jietiao_stack.testing import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


def spans(stack: Stack) -> list[dict[str, Any]]:
    """Every span the services exported so far."""
    found: list[dict[str, Any]] = []
    for path in Path(stack.config.data_dir / "spans").glob("*.jsonl"):
        found += [json.loads(line) for line in path.read_text().splitlines() if line]
    return found


async def test_creating_an_iou_is_one_trace_across_gateway_agreements_and_documents(
    stack: Stack, api: JietiaoApi, people
) -> None:
    lender, borrower = people
    a = await api.login(lender)
    iou = await a.create_iou(borrower)
    await a.wait_status(iou["id"], "awaiting_initiator")

    def trace_of_render() -> list[dict[str, Any]] | None:
        all_spans = spans(stack)
        render = [
            s
            for s in all_spans
            if s["name"].startswith("consume jietiao.cmd.documents.document.render")
            and s["attributes"].get("agreement_id") == iou["id"]
        ]
        if not render:
            return None
        trace = [s for s in all_spans if s["trace_id"] == render[0]["trace_id"]]
        services = {s["service"] for s in trace}
        wanted = {"jietiao-gateway", "jietiao-agreements", "jietiao-documents"}
        return trace if wanted <= services else None

    trace = await wait_until(trace_of_render)
    names = [s["name"] for s in trace]
    assert any(n == "POST /api/ious" for n in names)
    assert any(n == "POST /ious" for n in names)
    by_id = {s["span_id"]: s for s in trace}
    render = next(s for s in trace if s["name"].startswith("consume jietiao.cmd.documents"))
    chain = []
    while render is not None:
        chain.append(render["service"])
        render = by_id.get(render["parent_id"])
    assert chain[0] == "jietiao-documents" and chain[-1] == "jietiao-gateway"
    assert "jietiao-agreements" in chain
