"""Each service's bus contract as an AsyncAPI 3.0 document, made from the code.

What a service receives comes from the consumers it registers; what it sends from
:data:`contracts.SENT_BY`; every payload's schema from its pydantic model inside
the common envelope. The documents are checked into ``docs/asyncapi/`` and a test
fails when they drift from the code.
"""

from typing import Any

from .bus import Consumers
from .contracts import PAYLOADS, SENT_BY, Envelope, stream_for


def _channel_key(subject: str) -> str:
    return subject.replace("jietiao.", "").replace(".", "_")


def _message(subject: str) -> dict[str, Any]:
    model = PAYLOADS[subject]
    envelope = Envelope.model_json_schema()
    envelope["properties"]["data"] = model.model_json_schema()
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip(),
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "equals message_id"},
                "traceparent": {"type": "string", "description": "W3C trace context"},
            },
        },
        "payload": envelope,
    }


def document(service: str, consumers: Consumers, version: str = "1") -> dict[str, Any]:
    """The AsyncAPI document of one service."""
    received = {subject: (durable, doc) for subject, durable, doc in consumers.subscriptions}
    sent = sorted(s for s, owners in SENT_BY.items() if service in owners)
    subjects = sorted(set(received) | set(sent))
    channels = {
        _channel_key(s): {
            "address": s,
            "description": f"JetStream stream {stream_for(s)}",
            "messages": {PAYLOADS[s].__name__: _message(s)},
        }
        for s in subjects
    }
    operations: dict[str, Any] = {}
    for s in sent:
        operations[f"send_{_channel_key(s)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_channel_key(s)}"},
            "summary": "published through the transactional outbox",
        }
    for s, (durable, doc) in sorted(received.items()):
        operations[f"receive_{_channel_key(s)}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_channel_key(s)}"},
            "summary": doc,
            "description": f"durable pull consumer {durable}, inbox-deduplicated",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": f"Jietiao {service}", "version": version},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
    }
