"""Operator command: list and replay dead-lettered messages.

    python -m jietiao_shared.deadletters list [--consumer agreements-document-rendered]
    python -m jietiao_shared.deadletters replay SEQ [SEQ ...]

A replay publishes the original envelope again to its original subject, under a new
``Nats-Msg-Id`` so that JetStream accepts it; consumers that had already handled it
skip it through their inbox, the one that failed gets it again. The dead letter is
then removed from its stream.
"""

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from .bus import nats_servers
from .contracts import DEAD_LETTER_STREAM, stream_for


@dataclass(frozen=True)
class DeadLetter:
    """One message a consumer gave up on."""

    seq: int
    consumer: str
    subject: str
    error: str
    failed_at: str
    envelope: dict[str, Any]


async def list_dead_letters(js: JetStreamContext, consumer: str | None = None) -> list[DeadLetter]:
    """Every dead letter on the stream, oldest first."""
    info = await js.stream_info(DEAD_LETTER_STREAM)
    letters: list[DeadLetter] = []
    if not info.state.messages:
        return letters
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(DEAD_LETTER_STREAM, seq)
        except NotFoundError:
            continue
        record = json.loads(raw.data or b"{}")
        if consumer and record.get("consumer") != consumer:
            continue
        letters.append(
            DeadLetter(
                seq=seq,
                consumer=str(record.get("consumer")),
                subject=str(record.get("subject")),
                error=str(record.get("error")),
                failed_at=str(record.get("failed_at")),
                envelope=record.get("envelope") or {},
            )
        )
    return letters


async def replay(js: JetStreamContext, seq: int) -> DeadLetter:
    """Publish a dead letter's envelope to its subject again and drop the letter."""
    raw = await js.get_msg(DEAD_LETTER_STREAM, seq)
    record = json.loads(raw.data or b"{}")
    subject, envelope = record["subject"], record["envelope"]
    message_id = str(envelope.get("message_id", "unknown"))
    await js.publish(
        subject,
        json.dumps(envelope).encode(),
        stream=stream_for(subject),
        headers={"Nats-Msg-Id": f"replay:{seq}:{message_id}", "content-type": "application/json"},
    )
    await js.delete_msg(DEAD_LETTER_STREAM, seq)
    return DeadLetter(
        seq, record["consumer"], subject, record["error"], record["failed_at"], envelope
    )


async def _main(args: argparse.Namespace) -> int:
    nc = await nats.connect(servers=nats_servers(args.nats_url))
    try:
        js = nc.jetstream()
        if args.command == "list":
            for letter in await list_dead_letters(js, args.consumer):
                print(
                    f"{letter.seq:>6}  {letter.failed_at}  {letter.consumer:<32} "
                    f"{letter.envelope.get('type', '?'):<20} {letter.error[:120]}"
                )
            return 0
        for seq in args.seqs:
            letter = await replay(js, seq)
            print(f"replayed {seq}: {letter.envelope.get('type')} to {letter.subject}")
        return 0
    finally:
        await nc.close()


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m jietiao_shared.deadletters")
    parser.add_argument(
        "--nats-url", default=os.environ.get("JIETIAO_NATS_URL", "nats://127.0.0.1:8111")
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list dead letters")
    listing.add_argument("--consumer", help="only this durable consumer's")
    replaying = sub.add_parser("replay", help="replay dead letters by sequence number")
    replaying.add_argument("seqs", type=int, nargs="+")
    sys.exit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
