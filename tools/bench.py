"""Load script: many complete IOU lifecycles at once against a running platform.

For each concurrency level it runs lifecycles (two logins, create, both sign with
face checks, signed PDF, void request and confirmation, voided PDF) and prints:
completed lifecycles per second, CPU seconds each service process spent per
lifecycle (read from /proc), p50/p95/p99 latency of every API call, and of saga
completion (the counterparty's face check passing to the signed PDF being
available). It is a benchmark that prints numbers; it asserts nothing.

    make run            # in one terminal
    make bench          # in another; or: python tools/bench.py --concurrency 1,20
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from jietiao_stack.client import JietiaoApi, Session
from jietiao_stack.personas import make_person

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live descendants and its reaped children, in seconds.

    PostgreSQL serves each connection from a child process, so its figure is the
    whole tree under the postmaster.
    """
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    ticks = 0
    for member in tree:
        try:
            fields = _stat(member)
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
        if member == pid:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


class Recorder:
    """Latencies of named calls."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def __call__(self, name: str, seconds: float) -> None:
        self.samples[name].append(seconds)


async def lifecycle(api: JietiaoApi, rec: Recorder, rng: random.Random) -> None:
    """One IOU from login to voided copy."""
    lender, borrower = make_person(rng), make_person(rng)
    a: Session = await api.login(lender)
    b: Session = await api.login(borrower)
    iou = await a.create_iou(borrower)
    iou = await a.wait_status(iou["id"], "awaiting_initiator")
    await a.sign(iou)
    await a.wait_status(iou["id"], "awaiting_counterparty")
    await b.sign(await b.iou(iou["id"]))
    signed_at = time.perf_counter()
    iou = await b.wait_for(iou["id"], lambda i: i["documents"]["signed_sha256"], "signed", 120)
    rec("saga_completion", time.perf_counter() - signed_at)
    await a.download(iou["id"], "signed")
    await a.call(
        "request_void",
        "POST",
        f"/api/ious/{iou['id']}/void-requests",
        json={"reason": "压测"},
        expect=201,
    )
    await a.verify(iou["id"], "request_void")
    iou = await a.wait_status(iou["id"], "void_requested", 120)
    void_id = iou["void_request"]["id"]
    await b.call("confirm_void", "POST", f"/api/ious/{iou['id']}/void-requests/{void_id}/confirm")
    await b.verify(iou["id"], "confirm_void")
    await b.wait_for(iou["id"], lambda i: i["documents"]["voided_sha256"], "voided", 120)


async def run_level(
    gateway: str, token: str, pids: dict[str, int], count: int, concurrency: int
) -> None:
    """Run ``count`` lifecycles, ``concurrency`` at a time, and print the figures."""
    rec = Recorder()
    api = JietiaoApi(gateway, token, timer=rec)
    rng = random.Random()
    semaphore = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one() -> None:
        async with semaphore:
            try:
                await lifecycle(api, rec, rng)
            except Exception as exc:  # a failed lifecycle is counted, not fatal
                failures.append(repr(exc)[:200])

    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.perf_counter() - started
    cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    await api.close()

    done = count - len(failures)
    print(
        f"\n== concurrency {concurrency}: {done}/{count} lifecycles in {elapsed:.1f}s"
        f" = {done / elapsed:.2f} lifecycles/s"
    )
    if failures:
        print(f"   failures: {len(failures)}; first: {failures[0]}")
    print("   CPU seconds per lifecycle, by process:")
    for name in pids:
        spent = cpu_after[name] - cpu_before[name]
        print(f"     {name:<11} {spent / max(done, 1) * 1000:8.1f} ms")
    print(f"   {'call':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for name, values in sorted(rec.samples.items()):
        print(
            f"   {name:<22}{len(values):>6}"
            f"{percentile(values, 50) * 1000:>10.1f}{percentile(values, 95) * 1000:>10.1f}"
            f"{percentile(values, 99) * 1000:>10.1f}"
        )
    if rec.samples.get("saga_completion"):
        mean = statistics.mean(rec.samples["saga_completion"])
        print(f"   saga completion mean {mean * 1000:.1f} ms")


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gateway", default="http://127.0.0.1:8100")
    parser.add_argument("--data-dir", type=Path, default=Path(".jietiao"))
    parser.add_argument("--concurrency", default="1,20", help="comma-separated levels")
    parser.add_argument(
        "--lifecycles",
        type=int,
        default=0,
        help="lifecycles per level (default: 5 x concurrency, at least 10)",
    )
    args = parser.parse_args()
    try:
        token = (args.data_dir / "operator-token").read_text().strip()
        pids = json.loads((args.data_dir / "pids.json").read_text())
    except FileNotFoundError:
        sys.exit(f"no running platform found in {args.data_dir}: start it with `make run`")
    for level in (int(x) for x in args.concurrency.split(",")):
        count = args.lifecycles or max(10, 5 * level)
        asyncio.run(run_level(args.gateway, token, pids, count, level))


if __name__ == "__main__":
    main()
