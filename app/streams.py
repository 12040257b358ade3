"""Agent input and output: decoding with dead letters, and publishing validation results.

An exception inside an agent would make Faust ack the record anyway and lose it, so agents never
see undecodable bytes: `decoded()` yields parsed values and sends everything else, with the error
and its source in headers, to `<topic>-dead-letters`.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator, Callable, TypeVar

from faust import EventT, StreamT, current_event
from pydantic import ValidationError

from app import topics
from models.records import CheckType, OrderValidation, ValidationResult

T = TypeVar("T")

log = logging.getLogger(__name__)


async def decoded(stream: StreamT, parse: Callable[[bytes], T]) -> AsyncIterator[T]:
    """The stream's values parsed by `parse` (e.g. `Order.from_bytes`); the rest dead-lettered."""
    async for _, value in decoded_items(stream, parse):
        yield value


async def decoded_items(
    stream: StreamT, parse: Callable[[bytes], T]
) -> AsyncIterator[tuple[str, T]]:
    """(key, parsed value) pairs; keys are UTF-8 text. Records that fail either are dead-lettered."""
    async for event in stream.events():
        try:
            key = (event.key or b"").decode()
            value = parse(event.value)
        except ValueError as exc:  # pydantic's ValidationError and UnicodeDecodeError are too
            await send_to_dead_letters(event, _describe(exc))
            continue
        yield key, value


def current_partition() -> int:
    """The partition of the event the calling agent is processing."""
    return current_event().message.partition


async def send_to_dead_letters(event: EventT, error: str) -> None:
    message = event.message
    log.warning(
        "dead letter from %s[%s]@%s (key %r): %s",
        message.topic, message.partition, message.offset, event.key, error,
    )
    await topics.DEAD_LETTERS[message.topic].send(
        key=event.key,
        value=event.value,
        headers={
            "error": error.encode(),
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
