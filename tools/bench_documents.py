"""Time rendering and sealing of documents, per document, on this machine.

    .venv/bin/python tools/bench_documents.py --runs 30

Prints the median and 95th percentile of: rendering a signed copy, sealing it
(reserved void field + certification seal + local timestamp), rendering the void
stamp, sealing the voided copy, and validating both. Uses a throw-away local PKI.
"""

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from documents.render import RenderedPdf, SignatureImage, render_iou_layout, render_void_stamp
from documents.seal import SealConfig, Sealer, validate
from PIL import Image, ImageDraw

AT = datetime(2026, 12, 4, 6, 10, tzinfo=UTC)


def signature_png(wobble: int) -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    points = [(20, 150), (140, 40 + wobble), (260, 160), (380, 50), (560, 120)]
    ImageDraw.Draw(image).line(points, fill=(10, 10, 80, 255), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def terms() -> dict[str, Any]:
    plan = [
        {
            "seq": i,
            "due_date": f"2027-{i:02d}-04",
            "principal_fen": 100000,
            "interest_fen": 6000,
            "total_fen": 106000,
            "remaining_fen": 1200000 - 100000 * i,
        }
        for i in range(1, 13)
    ]
    party = {"id_number": "11010519491231002X"}
    return {
        "agreement_id": "bench-0001",
        "lender": {**party, "name": "张三", "phone": "+8613800000001"},
        "borrower": {**party, "name": "李四", "phone": "+8613800000002"},
        "principal_fen": 1200000,
        "amount_in_words": "人民币壹万贰仟元整",
        "purpose": "装修",
        "loan_date": "2026-12-04",
        "repayment_date": "2027-12-04",
        "term_months": 12,
        "annual_rate": "6.00",
        "overdue_rate": "12.00",
        "day_count": "actual/365",
        "payment_method": "bank_transfer",
        "payment_note": "",
        "repayment_method": "equal_principal",
        "plan": plan,
        "lpr": {"rate": "3.00", "published_on": "2025-05-20"},
    }


def render_signed(t: dict[str, Any], sigs: list[SignatureImage]) -> RenderedPdf:
    return render_iou_layout(t, kind="signed", signatures=sigs, rendered_at=AT)


def timed(samples: dict[str, list[float]], name: str, work: Callable[..., Any], *args: Any) -> Any:
    started = time.perf_counter()
    result = work(*args)
    samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    t = terms()
    voided = {"requested_by": "borrower", "reason": "双方协商一致", "confirmed_at": AT.isoformat()}
    sigs = [
        SignatureImage("lender", "张三", signature_png(0), AT, "a3" * 32, "ver-1"),
        SignatureImage("borrower", "李四", signature_png(30), AT, "5f" * 32, "ver-2"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        sealer = Sealer(SealConfig(data_dir=Path(folder)))
        roots = sealer.trust_roots()
        samples: dict[str, list[float]] = {}
        for run in range(args.runs + 1):  # the first run warms up (font, keys) and is dropped
            rendered = timed(samples, "render signed", render_signed, t, sigs)
            signed = timed(
                samples, "seal signed", sealer.seal_signed, rendered.pdf, rendered.void_box
            )
            stamp = timed(samples, "render void stamp", render_void_stamp, t, voided)
            void = timed(samples, "seal voided", sealer.seal_voided, signed, stamp, "双方协商一致")
            timed(samples, "validate signed", validate, signed, roots)
            timed(samples, "validate voided", validate, void, roots)
            if run == 0:
                samples.clear()
    print(f"{'step':<20}{'median ms':>12}{'p95 ms':>10}   (n={args.runs})")
    for name, values in samples.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"{name:<20}{statistics.median(values):>12.1f}{p95:>10.1f}")
    print(f"sizes: signed {len(signed)} B, voided {len(void)} B")


if __name__ == "__main__":
    main()
