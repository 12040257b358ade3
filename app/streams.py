"""The shell every agent runs in, and publishing validation results.

If a Faust agent raises, Faust acks the record anyway and the agent restarts: the record is lost
without a trace. So services are written as handlers of one record, registered with `consumes()`:
the shell decodes each record, calls the handler, and sends what cannot be decoded or processed
(original key and bytes; the error, the agent and the source offset in headers) to
`<topic>-dead-letters`, then goes on with the next record.

Several agents read `orders`; a record none of them can decode is dead-lettered once, by the
first agent registered on its topic. A record that one agent fails to process is dead-lettered
by that agent.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, TypeVar

from faust import EventT, TopicT, current_event
from faust.types import AgentT
from pydantic import ValidationError

from app import metrics, topics
from app.main import app
from models.records import CheckType, OrderValidation, ValidationResult

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Topic name -> the agent that dead-letters the topic's undecodable records.
_decode_failures_reported_by: dict[str, str] = {}


class Rejected(Exception):
    """Raised by a handler for a record it refuses: dead-lettered with this message."""


def consumes(
    topic: TopicT, parse: Callable[[bytes], T], *, keyed: bool = False
) -> Callable[[Callable[..., Awaitable[None]]], AgentT]:
    """Register `handle(value)` (or `handle(key, value)` when `keyed`) as an agent on `topic`.

    `parse` turns the record's bytes into the value (e.g. `Order.from_bytes`); keys are UTF-8
    text. The agent keeps Faust's concurrency of 1, so each partition is handled in order.
    """

    def register(handle: Callable[..., Awaitable[None]]) -> AgentT:
        name = f"{handle.__module__}.{handle.__name__}"
        reports_decode_failures = (
            _decode_failures_reported_by.setdefault(topic.get_topic_name(), name) == name
        )

        async def run(stream):
            async for event in stream.events():
                try:
                    key = (event.key or b"").decode()
                    value = parse(event.value)
                except ValueError as exc:  # pydantic's ValidationError, UnicodeDecodeError too
                    if reports_decode_failures:
                        await _send_to_dead_letters(event, _describe(exc), name)
                    continue
                try:
                    await (handle(key, value) if keyed else handle(value))
                except Rejected as exc:
                    await _send_to_dead_letters(event, str(exc), name)
                except Exception as exc:
                    log.exception("%s failed on a record of %s", name, topic.get_topic_name())
                    await _send_to_dead_letters(event, f"{type(exc).__name__}: {exc}", name)

        run.__doc__ = handle.__doc__
        return app.agent(topic, name=name)(run)

    return register


def current_partition() -> int:
    """The partition of the event the calling agent is processing."""
    return current_event().message.partition


async def _send_to_dead_letters(event: EventT, error: str, agent: str) -> None:
    message = event.message
    log.warning(
        "dead letter from %s[%s]@%s (key %r) in %s: %s",
        message.topic, message.partition, message.offset, event.key, agent, error,
    )
    metrics.dead_letters.labels(message.topic).inc()
    await topics.DEAD_LETTERS[message.topic].send(
        key=event.key,
        value=event.value,
        headers={
            "error": error.encode(),
            "agent": agent.encode(),
            "source-topic": message.topic.encode(),
            "source-partition": str(message.partition).encode(),
            "source-offset": str(message.offset).encode(),
        },
    )


async def publish_validation(order_id: str, check: CheckType, result: ValidationResult) -> None:
    validation = OrderValidation(order_id=order_id, check_type=check, validation_result=result)
    await topics.order_validations.send(key=order_id.encode(), value=validation.to_bytes())


def _describe(exc: ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'record'}: {error['msg']}" for error in exc.errors()
    )
