"""Orders service: places orders, once per order id, keeps the query side (CQRS), and hands each
new order event to the customer- and product-keyed services.

Consumes: order-requests (PlaceOrder, written by `POST /v1/orders`), orders (Order).
Produces: orders (the CREATED order of each accepted request);
          orders-by-customer (every new order event), orders-by-product (CREATED, VALIDATED,
          FAILED), as OrderEvent items stamped with their `orders` partition and offset.
Keeps: order_states (order id -> OrderRecord): `placed_by`, `latest` (served by
       `GET /v1/orders/{id}`).
"""

from __future__ import annotations

from app import metrics, topics
from app.main import app
from app.framework.streams import consumes, current_partition, current_source, partition_for
from models.records import STATE_RANK, Order, OrderEvent, OrderState, PlaceOrder
from models.state import OrderRecord
from tables.orders import order_states

#: The events the inventory check acts on: reserve, keep, release.
STOCK_EVENTS = frozenset({OrderState.CREATED, OrderState.VALIDATED, OrderState.FAILED})


def may_place(placed_by: str | None, request_id: str) -> bool:
    """Whether a PlaceOrder request may publish its order: the first request for an id wins it.

    The winner's own request may publish again: a command redelivered after a crash re-sends
    the same order, which every consumer of `orders` treats as a duplicate.
    """
    return placed_by is None or placed_by == request_id


def supersedes(incoming: Order, current: Order | None) -> bool:
    """Whether `incoming` replaces `current` in the query side.

    A redelivered CREATED never hides a later state, and a second CREATED for a known id (from a
    producer that bypassed the API) never replaces the order that was placed first. Only an event
    that supersedes is news to the other services.
    """
    return current is None or STATE_RANK[incoming.state] > STATE_RANK[current.state]


@consumes(topics.order_requests, PlaceOrder.from_bytes)
async def place_orders(request: PlaceOrder) -> None:
    order = request.order
    record = order_states.get(order.id) or OrderRecord()
    if may_place(record.placed_by, request.request_id):
        if record.placed_by is None:
            order_states[order.id] = record.model_copy(update={"placed_by": request.request_id})
        await app.outputs.publish(  # order-requests and orders are co-partitioned
            topics.orders, order.id, order.to_bytes(), partition=current_partition(),
            timestamp=order.timestamp)


@consumes(topics.orders, Order.from_bytes)
async def record_order_events(order: Order) -> None:
    metrics.order_events.labels(order.state.value).inc()
    record = order_states.get(order.id) or OrderRecord()
    if not supersedes(order, record.latest):
        return
    order_states[order.id] = record.model_copy(update={"latest": order})
    partition, offset = current_source()
    event = OrderEvent(partition=partition, offset=offset, order=order).to_bytes()
    app.outputs.add(topics.orders_by_customer, partition_for(str(order.customer_id)), event)
    if order.state in STOCK_EVENTS:
        app.outputs.add(topics.orders_by_product, partition_for(order.product), event)
