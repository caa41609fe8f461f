"""Drive one complete IOU lifecycle against a running platform, printing each step.

Two people, a lender and a borrower, use the gateway's HTTP API only: log in with
a one-time code, create the IOU, sign and pass the face check on each side, turn
on reminders, then void it by mutual consent. Start the platform first with
``make run``; then ``make demo``.
"""

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

from jietiao_stack.client import JietiaoApi
from jietiao_stack.personas import make_person


def step(text: str) -> None:
    """Print one step of the story."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def demo(gateway: str, operator_token: str, out_dir: Path) -> None:
    """The whole lifecycle, step by step."""
    api = JietiaoApi(gateway, operator_token)
    rng = random.Random()
    lender, borrower = make_person(rng), make_person(rng)
    started = time.perf_counter()
    try:
        a = await api.login(lender)
        step(f"lender {lender.name} logged in with the code sent by SMS")
        b = await api.login(borrower)
        step(f"borrower {borrower.name} logged in")

        iou = await a.create_iou(borrower, role="lender", principal="12000.00")
        step(
            f"IOU {iou['id']} created: {iou['terms']['amount_in_words']}, "
            f"{len(iou['terms']['plan'])} instalments"
        )
        iou = await a.wait_status(iou["id"], "awaiting_initiator")
        step(f"preview rendered, sha256 {iou['documents']['preview_sha256'][:16]}...")

        await a.sign(iou)
        await a.wait_status(iou["id"], "awaiting_counterparty")
        step("lender signed by hand and passed the face check: awaiting the borrower")
        sms = await api.wait_sms(borrower.phone, "invitation", agreement_id=iou["id"])
        step(f"SMS to borrower: {sms[0]['text']}")
        links = await a.call("share_links", "GET", f"/api/ious/{iou['id']}/share-links")
        step(f"share link for WeChat: {links['items'][0]['url']}")

        await b.sign(await b.iou(iou["id"]))
        iou = await b.wait_for(iou["id"], lambda i: i["documents"]["signed_sha256"], "signed")
        step(
            f"borrower signed: IOU is {iou['status']}, signed PDF "
            f"{iou['documents']['signed_sha256'][:16]}..."
        )
        pdf = await a.download(iou["id"], "signed")
        signed_path = out_dir / f"iou-{iou['id']}-signed.pdf"
        signed_path.write_bytes(pdf)
        step(f"signed PDF saved: {signed_path} ({len(pdf)} bytes)")

        await a.call(
            "reminders",
            "PUT",
            f"/api/ious/{iou['id']}/reminders",
            json={"enabled": True},
        )
        step("repayment reminders switched on")

        await a.call(
            "request_void",
            "POST",
            f"/api/ious/{iou['id']}/void-requests",
            json={"reason": "借款已全部还清"},
            expect=201,
        )
        await a.verify(iou["id"], "request_void")
        iou = await a.wait_status(iou["id"], "void_requested")
        step("lender asked to void it (face check passed); borrower told by SMS")
        void_id = iou["void_request"]["id"]
        await b.call(
            "confirm_void",
            "POST",
            f"/api/ious/{iou['id']}/void-requests/{void_id}/confirm",
        )
        await b.verify(iou["id"], "confirm_void")
        iou = await b.wait_for(iou["id"], lambda i: i["documents"]["voided_sha256"], "voided")
        step(f"borrower confirmed: IOU is {iou['status']}")
        voided = await b.download(iou["id"], "voided")
        voided_path = out_dir / f"iou-{iou['id']}-voided.pdf"
        voided_path.write_bytes(voided)
        step(f"voided copy saved: {voided_path}")
        step(f"final document: {gateway}/api/ious/{iou['id']}/documents/voided")
        step(f"lifecycle took {time.perf_counter() - started:.2f}s")
    finally:
        await api.close()


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", default="http://127.0.0.1:8100")
    parser.add_argument("--data-dir", type=Path, default=Path(".jietiao"))
    args = parser.parse_args()
    token_file = args.data_dir / "operator-token"
    if not token_file.exists():
        sys.exit(f"no operator token in {token_file}: start the platform with `make run`")
    out_dir = args.data_dir / "demo"
    out_dir.mkdir(exist_ok=True)
    try:
        asyncio.run(demo(args.gateway, token_file.read_text().strip(), out_dir.resolve()))
    except OSError as exc:
        sys.exit(f"cannot reach the platform at {args.gateway}: {exc}")


if __name__ == "__main__":
    main()
