"""Decoding agent input: records that cannot be decoded go to their topic's dead letters.

An exception inside an agent would make Faust ack the record anyway and lose it, so agents never
see undecodable bytes: `decoded()` yields records and sends everything else, with the error and
its source in headers, to `<topic>-dead-letters`.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator, TypeVar

from faust import EventT, StreamT
from pydantic import ValidationError

from app import topics
from models.records import Record

R = TypeVar("R", bound=Record)

log = logging.getLogger(__name__)


async def decoded(stream: StreamT, model: type[R]) -> AsyncIterator[R]:
    async for event in stream.events():
        try:
            record = model.from_bytes(event.value)
        except ValidationError as exc:
            await send_to_dead_letters(event, _describe(exc))
            continue
        yield record


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


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'record'}: {error['msg']}" for error in exc.errors()
    )
