"""`faust -A app trace ORDER_ID`: an order's records on the topics keyed by order id, in order.

Those topics are co-partitioned, so one partition of each holds everything about the order: the
command that placed it, its events, the three validations, any deadline notice and its payments;
the trace reads only that partition of each, from the beginning to the end. Its email sits with
its customer (`emails` is the email service's changelog): the trace reads every partition of it.
Records of the batched topics (`order-validations`, `payments-by-order`) hold items of many
orders: the trace shows each item of this order on its own line, with the schema id its record
was framed with.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from app import topics
from app.kafka_clients import client_options
from app.logs import read_to_end
from app.partitioning import partition_of
from app.schemas import Unreadable, unframe
from app.settings import Settings

#: The order-keyed topics, in the order an order passes through them.
ORDER_TOPICS = [
    topics.order_requests, topics.orders, topics.order_validations, topics.order_deadlines,
    topics.payments_by_order, topics.emails,
]
#: Topics keyed by order id whose records sit in the partition of the order's customer (`emails`,
#: the changelog of the email service's table): the trace reads all their partitions.
WITH_THE_CUSTOMER = frozenset({"emails"})
#: Topics whose records are batches of items, each naming its order in `orderId`.
BATCHED = frozenset({"order-validations", "payments-by-order"})
#: Topics whose records are framed with a schema id (app/schemas.py).
FRAMED = frozenset(topic.base_name for topic in ORDER_TOPICS if topic.value_type is not None)


async def read_partitions(
    settings: Settings, partitions: list[TopicPartition],
) -> list[ConsumerRecord]:
    """Every record of `partitions`, from the beginning to the end they have now."""
    return [record async for batch in read_to_end(settings, partitions) for record in batch]


async def find_record(
    settings: Settings, partition: TopicPartition, key: bytes, after_ms: int, until_ms: int,
) -> ConsumerRecord | None:
    """The first record with `key` in `partition` stamped between `after_ms` and `until_ms`.

    The read starts where the broker's time index puts `after_ms` and stops at the first record
    stamped after `until_ms`: bounded, for a topic whose records are stamped as they are written
    (a table's changelog), never for one stamped with client event times.
    """
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        start = (await consumer.offsets_for_times({partition: after_ms}))[partition]
        if start is None:
            return None
        consumer.seek(partition, start.offset)
        end = (await consumer.end_offsets([partition]))[partition]
        while await consumer.position(partition) < end:
            for record in (await consumer.getmany(partition, timeout_ms=1000)).get(partition, []):
                if record.timestamp > until_ms:
                    return None
                if record.key == key:
                    return record
        return None
    finally:
        await consumer.stop()


def describe(topic: str, value: bytes) -> str:
    """One line about a record of an order-keyed topic (`topic` without the prefix)."""
    try:
        record = json.loads(value) if value else {}
    except ValueError:
        return f"undecodable ({len(value)} bytes)"
    return summary(topic, record)


def summary(topic: str, record: dict) -> str:
    """One line about a record (or a batch's item) of an order-keyed topic, as JSON."""
    if topic == "order-requests":
        order = record.get("order", {})
        return f"place {order.get('quantity')} x {order.get('product')} (request {record.get('requestId')})"
    if topic == "orders":
        details = [f"failedChecks={','.join(record['failedChecks'])}"] if record.get("failedChecks") else []
        details += [f"reason={record['reason']}"] if record.get("reason") else []
        return " ".join([str(record.get("state")), *details])
    if topic == "order-validations":
        return f"{record.get('checkType')} {record.get('validationResult')}"
    if topic == "payments-by-order":
        return f"payment {record.get('id')}: {record.get('amount')} {record.get('ccy')}"
    if topic == "emails":
        return f"email to {record.get('to')} (delivered by {record.get('deliveredBy')})"
    return "deadline passed"


def order_entries(topic: str, key: bytes | None, value: bytes, order_id: str) -> list[str]:
    """What one record of an order-keyed topic says about `order_id`, a line per entry (with
    the schema id of a framed record)."""
    if topic not in BATCHED and key != order_id.encode():
        return []
    schema = ""
    if topic in FRAMED:
        try:
            schema_id, value = unframe(value)
        except Unreadable as exc:
            return [f"unreadable: {exc}"] if topic not in BATCHED else []
        schema = f"  [schema {schema_id}]"
    if topic not in BATCHED:
        return [describe(topic, value) + schema]
    try:
        items = json.loads(value)
    except ValueError:
        return []
    return [
        summary(topic, item) + schema for item in items
        if isinstance(item, dict) and item.get("orderId") == order_id
    ]


async def trace_order(settings: Settings, order_id: str) -> list[str]:
    partition = partition_of(order_id, settings.topic_partitions)
    names = {topic.name_in(settings): topic.base_name for topic in ORDER_TOPICS}
    partitions = [
        TopicPartition(name, p) for name, base_name in names.items()
        for p in (range(settings.topic_partitions) if base_name in WITH_THE_CUSTOMER else [partition])
    ]
    records = await read_partitions(settings, partitions)
    order = list(names)
    in_order = sorted(records, key=lambda record: (order.index(record.topic), record.offset))
    return [
        f"{_time(record.timestamp)}  {names[record.topic]:<18} {record.partition}@{record.offset:<8} {entry}"
        for record in in_order
        for entry in order_entries(names[record.topic], record.key, record.value, order_id)
    ]


def _time(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
