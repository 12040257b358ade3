"""Order timelines: every event about an order, with where it sits on Kafka, for
`GET /v1/orders/{id}/timeline` (web/timeline.py): the story `make trace` reads from the log,
kept as the events pass.

An index kept in the order's record, not a read of the log per request: the order-keyed topics
are co-partitioned, but an order's records are spread through its partitions among everyone
else's, and no offset range can be found from the order alone. Record timestamps are event times
that clients choose (`createdAt`), not increasing along a partition, so the broker's time index
cannot bound a read, and reading from the order's first offset to the end grows with every order
placed after it. The index lives in `order_states`, the record the order's services write at
nearly every one of these events anyway, so it adds bytes to their changelog records but no
records (a table of its own added two changelog records per order: `BENCHMARKS.md`).

Entries come in the order this worker read them: within a topic by offset, and each event after
the one that caused it (an event is written while its cause is handled). A redelivered record
(at or before the last one kept from its topic) is not added again. The order's email sits with
its customer (`emails`): the view asks that worker.

Consumes: order-requests (PlaceOrder), orders (Order), order-validations (batches of
          OrderValidation), order-deadlines (keys), payments-by-order (batches of Payment).
Keeps: order_states (order id -> OrderRecord): `timeline`.
"""

from __future__ import annotations

from app import topics
from app.framework.handle import TopicHandle
from app.framework.streams import consumes, current_source, current_timestamp_ms
from app.main import settings
from app.trace import summary
from models.records import Order, OrderValidation, Payment, PlaceOrder
from models.state import OrderRecord, OrderTimeline, TimelineEntry
from tables.orders import order_states


def with_entry(
    timeline: OrderTimeline | None, entry: TimelineEntry, max_entries: int
) -> OrderTimeline | None:
    """`timeline` with `entry` added at its end; None if it has the entry already (a redelivery).

    An order's records on one topic sit in one partition and are read in offset order, so a
    record at or before the last one kept from its topic is a redelivery, unless it is another
    item of that batch. Past `max_entries`, an event is only counted in `dropped` (a redelivery
    of one then counts again: nothing of it is kept to recognise it by).
    """
    timeline = timeline or OrderTimeline()
    for kept in reversed(timeline.entries):
        if kept.topic == entry.topic:
            if entry.offset < kept.offset or (
                entry.offset == kept.offset and any(
                    other.summary == entry.summary for other in timeline.entries
                    if other.topic == entry.topic and other.offset == entry.offset)
            ):
                return None
            break
    if len(timeline.entries) >= max_entries:
        return timeline.model_copy(update={"dropped": timeline.dropped + 1})
    return timeline.model_copy(update={"entries": [*timeline.entries, entry]})


def _index(order_id: str, topic: TopicHandle, record: dict) -> None:
    partition, offset = current_source()
    entry = TimelineEntry.model_construct(  # this worker's own values: nothing to validate
        topic=topic.base_name, partition=partition, offset=offset,
        timestamp=current_timestamp_ms(), summary=summary(topic.base_name, record),
    )
    record = order_states.get(order_id) or OrderRecord()
    timeline = with_entry(record.timeline, entry, settings.timeline_max_entries)
    if timeline is not None:
        order_states[order_id] = record.model_copy(update={"timeline": timeline})


@consumes(topics.order_requests, PlaceOrder.from_bytes)
async def index_requests(request: PlaceOrder) -> None:
    _index(request.order.id, topics.order_requests, request.to_json())


@consumes(topics.orders, Order.from_bytes)
async def index_order_events(order: Order) -> None:
    _index(order.id, topics.orders, order.to_json())


@consumes(topics.order_validations, OrderValidation, batched=True)
async def index_validations(validation: OrderValidation) -> None:
    _index(validation.order_id, topics.order_validations, validation.to_json())


@consumes(topics.order_deadlines, bytes, keyed=True)
async def index_deadlines(order_id: str, _: bytes) -> None:
    _index(order_id, topics.order_deadlines, {})


@consumes(topics.payments_by_order, Payment, batched=True)
async def index_payments(payment: Payment) -> None:
    _index(payment.order_id, topics.payments_by_order, payment.to_json())
