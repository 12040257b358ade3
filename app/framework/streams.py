"""The shell every service runs in: one agent per input topic, handlers registered per service.

If a Faust agent raises, Faust acks the record anyway and the agent restarts: the record is lost
without a trace. So services are written as handlers of one value, registered with `consumes()`:
the topic's agent decodes each record once, calls every handler registered on the topic (in
registration order), and sends what cannot be decoded (not framed with a schema id of the
topic's subject, app/schemas.py, or not a valid record) or processed (original key and bytes; the
error, the source offset, and in `agent` the handler that failed or, for a record that does not
decode, the topic's agent `read-<topic>`) to `<topic>-dead-letters`, then goes on.

Internal topics carry batches (`batched=True`): a record is a JSON array of items
(`models.records.encode_batch`), and each item is handled as if it were a record of its own; an
item that fails is dead-lettered alone, as JSON, and its batch goes on.

One agent per topic keeps Faust's concurrency of 1, so each partition is handled in order, and
decodes each record once however many services read the topic.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Awaitable, Callable, NamedTuple

from faust import EventT, current_event
from pydantic import TypeAdapter, ValidationError

from app import metrics, topics
from app.framework.handle import Handle, TopicHandle
from app.main import app, settings
from app.schemas import UnknownId
from app.partitioning import partition_of
from models.records import CheckType, OrderValidation, ValidationResult

log = logging.getLogger(__name__)


class Rejected(Exception):
    """Raised by a handler for a value it refuses: dead-lettered with this message."""


@dataclass(frozen=True)
class Handler:
    name: str
    call: Callable[[str, Any], Awaitable[None]]


@dataclass
class TopicReader:
    """The agent of one input topic and the handlers it calls."""

    agent: Handle
    #: Records are batches of items.
    batched: bool
    #: A record without a value (a deletion on a compacted topic) reaches the handlers as None.
    tombstones: bool
    handlers: list[Handler]


#: Topic (its base name) -> its reader.
readers: dict[str, TopicReader] = {}


def consumes(
    topic: TopicHandle, parse: Callable[[bytes], Any] | Any, *, keyed: bool = False,
    batched: bool = False, tombstones: bool = False,
) -> Callable[[Callable[..., Awaitable[None]]], Handle]:
    """Register `handle(value)` (or `handle(key, value)` when `keyed`) on `topic`.

    `parse` turns a record's bytes into the value (e.g. `Order.from_bytes`); on a `batched` topic
    it is the item's record class (or a union of them). Keys are UTF-8 text. With `tombstones`,
    a record without a value is handled as None (else it is a dead letter). Returns the topic's
    agent (its handle, for `test_context()`), which calls every handler of the topic.
    """

    def register(handle: Callable[..., Awaitable[None]]) -> Handle:
        name = f"{handle.__module__}.{handle.__name__}"
        call = handle if keyed else (lambda key, value: handle(value))
        reader = readers.get(topic.base_name)
        if reader is None:
            reader = _new_reader(topic, parse, batched, tombstones)
        reader.handlers.append(Handler(name, call))
        return reader.agent

    return register


def _new_reader(
    topic: TopicHandle, parse: Callable[[bytes], Any] | Any, batched: bool, tombstones: bool,
) -> TopicReader:
    name = topic.base_name
    agent_name = f"read-{name}"
    decode = _batch_parser(parse) if batched else _record_parser(parse)

    async def read(stream):
        schemas = app.schemas
        known = schemas.topics.get(topic.get_topic_name())  # None: values are not framed
        async for event in stream.events():
            try:
                key = (event.key or b"").decode()
                if event.value is None and tombstones:
                    values = [None]
                else:
                    if known is None:
                        payload = event.value
                    else:
                        try:
                            payload = known.payload(event.value)
                        except UnknownId as unknown:  # once per id: the registry is asked
                            await schemas.ask_about(known, unknown.schema_id)
                            payload = known.payload(event.value)
                    values = decode(payload)
            except ValueError as exc:  # Unreadable, pydantic's ValidationError, UnicodeDecodeError
                await _send_to_dead_letters(topic, event, event.value, describe(exc), agent_name)
                continue
            for value in values:
                if isinstance(value, Undecodable):
                    await _send_to_dead_letters(topic, event, value.raw, value.error, agent_name)
                    continue
                for handler in reader.handlers:
                    try:
                        await handler.call(key, value)
                    except Exception as exc:
                        if not isinstance(exc, Rejected):
                            log.exception("%s failed on a record of %s", handler.name, name)
                        error = str(exc) if isinstance(exc, Rejected) else f"{type(exc).__name__}: {exc}"
                        # A batch's item is dead-lettered alone, as JSON.
                        raw = value.to_bytes() if batched else event.value
                        await _send_to_dead_letters(topic, event, raw, error, handler.name)

    reader = readers[name] = TopicReader(
        app.agent(topic, name=agent_name)(read), batched, tombstones, [])
    return reader


class Undecodable(NamedTuple):
    """An item of a batch that does not decode: dead-lettered alone."""

    raw: bytes
    error: str


def _record_parser(parse: Callable[[bytes], Any]) -> Callable[[bytes], list[Any]]:
    return lambda raw: [parse(raw)]


def _batch_parser(item_type: Any) -> Callable[[bytes], list[Any]]:
    whole, one = TypeAdapter(list[item_type]), TypeAdapter(item_type)

    def parse(raw: bytes) -> list[Any]:
        try:
            return whole.validate_json(raw)
        except ValidationError:
            items = json.loads(raw)  # ValueError: not a batch at all, dead-lettered whole
            if not isinstance(items, list):
                raise ValueError("a batch is a JSON array of items") from None
            return [_parse_item(one, item) for item in items]

    return parse


def _parse_item(item_type: TypeAdapter, item: Any) -> Any:
    try:
        return item_type.validate_python(item)
    except ValidationError as exc:
        return Undecodable(json.dumps(item).encode(), describe(exc))


def current_source() -> tuple[int, int]:
    """The partition and offset of the record the calling handler is processing."""
    message = current_event().message
    return message.partition, message.offset


def current_timestamp_ms() -> int:
    """The timestamp of the record the calling handler is processing, epoch milliseconds."""
    return round(current_event().message.timestamp * 1000)


def current_partition() -> int:
    """The partition of the record the calling handler is processing."""
    return current_event().message.partition


@lru_cache(maxsize=65536)
def partition_for(key: str) -> int:
    """The partition of `key` in every topic of the registry (they share a partition count)."""
    return partition_of(key, settings.topic_partitions)


def report_validation(
    partition: int, order_id: str, check: CheckType, result: ValidationResult
) -> None:
    """A validator's answer, as an item for `order-validations` in the order's partition."""
    validation = OrderValidation(order_id=order_id, check_type=check, validation_result=result)
    app.outputs.add(topics.order_validations, partition, validation.to_bytes())


async def _send_to_dead_letters(
    topic: TopicHandle, event: EventT, value: bytes, error: str, handler: str
) -> None:
    message = event.message
    log.warning(
        "dead letter from %s[%s]@%s (key %r) in %s: %s",
        message.topic, message.partition, message.offset, event.key, handler, error,
    )
    metrics.dead_letters.labels(message.topic).inc()
    await topics.DEAD_LETTERS[topic.base_name].send(
        key=event.key,
        value=value,
        headers={
            "error": error.encode(),
            "agent": handler.encode(),
            "source-topic": message.topic.encode(),
            "source-partition": str(message.partition).encode(),
            "source-offset": str(message.offset).encode(),
        },
    )


def describe(exc: ValueError) -> str:
    """What is wrong with a value, in one line (each field's error, for pydantic's)."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'record'}: {error['msg']}" for error in exc.errors()
    )
