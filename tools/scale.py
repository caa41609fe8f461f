"""Scale-out on one machine: one replica against two, and faults in a cluster.

Runs, in one go, on ports and data folders of its own:
1. one NATS server and one replica of each service: N lifecycles, C at a time;
2. a three-node NATS cluster (streams replicated three times) and two replicas of
   each service: the same load;
3. the cluster again while one NATS node and one replica of each service are
   killed (SIGKILL) and restarted in turn; afterwards every IOU is checked for its
   ending and for doubled or missing effects.
It prints the figures of 1 and 2 side by side: lifecycles per second, CPU per
lifecycle per service (all replicas together), and latency percentiles.

    .venv/bin/python tools/scale.py --lifecycles 30 --concurrency 10
"""

import argparse
import asyncio
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import Recorder, cpu_seconds, percentile
from jietiao_stack.client import JietiaoApi
from jietiao_stack.scenarios import ENDINGS, drive, settled_problems
from jietiao_stack.stack import SERVICES, Stack, StackConfig
from jietiao_stack.testing import StackLog, free_base_port


@dataclass
class Figures:
    """What one configuration did under the load."""

    label: str
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)
    latency: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)


def _group(name: str) -> str:
    base, _, number = name.rpartition("-")
    return base if number.isdigit() else name


def _cpu_by_group(stack: Stack) -> dict[str, float]:
    totals: dict[str, float] = {}
    for child in stack.children:
        group = _group(child.name)
        try:
            totals[group] = totals.get(group, 0.0) + cpu_seconds(child.process.pid)
        except FileNotFoundError:
            continue
    return totals


async def _chaos(stack: Stack, stop: asyncio.Event, log: list[str]) -> None:
    rng = random.Random()
    victims = [*stack.nats_child_names()[1:2], *(f"{s}-2" for s in SERVICES)]
    while not stop.is_set():
        for victim in victims:
            if stop.is_set():
                return
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            started = time.monotonic()
            await stack.kill(victim, signal.SIGKILL)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            await stack.respawn(victim)
            log.append(f"{victim} killed and back in {time.monotonic() - started:.1f}s")


async def run(
    label: str, nats_nodes: int, replicas: int, lifecycles: int, concurrency: int, faults: bool
) -> Figures:
    """Start a stack of that shape, drive the load (with faults), stop it."""
    config = StackConfig(
        data_dir=Path(tempfile.mkdtemp(prefix="jietiao-scale-")),
        base_port=free_base_port(),
        log_format="json",
        nats_nodes=nats_nodes,
        replicas=replicas,
        extra_env={
            "JIETIAO_CODE_MIN_INTERVAL_SECONDS": "0",
            "JIETIAO_MAX_DELIVER": "20",
            "JIETIAO_CODES_PER_PHONE_PER_HOUR": "100",
        },
    )
    stack = Stack(config, printer=StackLog(config.data_dir / "stack.log"))
    await stack.start()
    figures, rec = Figures(label), Recorder()
    api = JietiaoApi(config.url("gateway"), config.operator_token(), timer=rec, retry_seconds=90)
    rng, semaphore = random.Random(), asyncio.Semaphore(concurrency)
    stop = asyncio.Event()
    chaos = asyncio.create_task(_chaos(stack, stop, figures.faults)) if faults else None
    records: list[dict[str, Any]] = []

    async def one(n: int) -> None:
        async with semaphore:
            try:
                records.append(await drive(api, ENDINGS[n % len(ENDINGS)], rng))
            except Exception as exc:  # a lost lifecycle is a finding, not a crash
                figures.failed += 1
                figures.problems[f"lifecycle {n}"] = [repr(exc)[:200]]

    try:
        before = _cpu_by_group(stack)
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(lifecycles)))
        figures.seconds = time.perf_counter() - started
        after = _cpu_by_group(stack)
        stop.set()
        if chaos is not None:
            await chaos
        figures.done = len(records)
        figures.cpu_ms = {
            g: (after.get(g, 0.0) - before.get(g, 0.0)) / max(1, figures.done) * 1000 for g in after
        }
        figures.latency = {
            name: (percentile(v, 50), percentile(v, 95), percentile(v, 99))
            for name, v in rec.samples.items()
        }
        if faults:
            figures.problems.update(await settled_problems(api, records))
    finally:
        await api.close()
        await stack.stop()
    return figures


def report(one: Figures, two: Figures, chaos: Figures | None) -> None:
    """Print the two configurations side by side, then the fault run."""
    print(f"\n{'':<24}{one.label:>18}{two.label:>18}")
    print(f"{'lifecycles done':<24}{one.done:>18}{two.done:>18}")
    print(f"{'lifecycles/s':<24}{one.done / one.seconds:>18.2f}{two.done / two.seconds:>18.2f}")
    print("CPU ms per lifecycle")
    for group in sorted(set(one.cpu_ms) | set(two.cpu_ms)):
        print(f"  {group:<22}{one.cpu_ms.get(group, 0):>18.1f}{two.cpu_ms.get(group, 0):>18.1f}")
    print("latency p50 / p95 ms")
    for name in sorted(set(one.latency) & set(two.latency)):
        a, b = one.latency[name], two.latency[name]
        print(
            f"  {name:<22}{a[0] * 1000:>9.0f} /{a[1] * 1000:>6.0f}"
            f"{b[0] * 1000:>11.0f} /{b[1] * 1000:>6.0f}"
        )
    if chaos is not None:
        print(
            f"\nfaults in the cluster: {len(chaos.faults)} kills while {chaos.done} lifecycles ran"
        )
        for line in chaos.faults:
            print(f"  {line}")
        print(f"  lifecycles with a wrong ending or effect: {len(chaos.problems)}")
        for key, problems in chaos.problems.items():
            print(f"    {key}: {', '.join(problems)}")


async def main_async(args: argparse.Namespace) -> int:
    """Run the three phases."""
    one = await run("1 replica", 1, 1, args.lifecycles, args.concurrency, faults=False)
    two = await run("2 replicas", 3, 2, args.lifecycles, args.concurrency, faults=False)
    chaos = None
    if not args.no_faults:
        chaos = await run("2 + faults", 3, 2, args.lifecycles, args.concurrency, faults=True)
    report(one, two, chaos)
    return 1 if chaos is not None and chaos.problems else 0


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lifecycles", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--no-faults", action="store_true")
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
