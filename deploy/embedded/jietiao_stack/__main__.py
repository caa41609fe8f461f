"""``python -m jietiao_stack run``: the platform on this machine, until Ctrl-C."""

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .servers import PortInUse
from .stack import Stack, StackConfig, console_printer


async def _run(config: StackConfig) -> int:
    stack = Stack(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    console_printer("stack", f"starting; data in {config.data_dir}")
    starting = asyncio.create_task(stack.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stopping.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await stack.stop()
        return 130
    starting.result()
    console_printer("stack", "")
    console_printer("stack", f"Jietiao is up: {config.url('gateway')}")
    console_printer("stack", f"operator token: in {config.data_dir / 'operator-token'}")
    console_printer("stack", "press Ctrl-C to stop")
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            gone = stack.exited()
            if gone:
                console_printer("stack", f"stopped unexpectedly: {', '.join(gone)}")
                break
    console_printer("stack", "stopping...")
    await stack.stop()
    console_printer("stack", "stopped")
    return 0


def main() -> None:
    """Parse the command line and run the stack."""
    parser = argparse.ArgumentParser(prog="jietiao-stack")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--data-dir", type=Path, default=Path(".jietiao"))
    parser.add_argument("--base-port", type=int, default=8100)
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    args = parser.parse_args()
    config = StackConfig(args.data_dir.resolve(), args.base_port, args.log_format)
    try:
        sys.exit(asyncio.run(_run(config)))
    except PortInUse as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        sys.exit(2)
    except (RuntimeError, TimeoutError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
