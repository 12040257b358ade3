"""Orders service: places orders, once per order id, and keeps the query side (CQRS).

Consumes: order-requests (PlaceOrder, written by `POST /v1/orders`), orders (Order).
Produces: orders (the CREATED order of each accepted request).
Keeps: order_placements (order id -> id of the request that placed it),
       latest_orders (order id -> latest Order, served by `GET /v1/orders/{id}`).
"""

from __future__ import annotations

from app import topics
from app import metrics
from app.streams import consumes
from models.records import Order, OrderState, PlaceOrder
from tables.orders import latest_orders, order_placements

#: How far each state is along an order's life; an event never moves an order backwards.
STATE_RANK = {
    OrderState.CREATED: 0,
    OrderState.VALIDATED: 1,
    OrderState.FAILED: 1,
    OrderState.SHIPPED: 2,
}


def may_place(placed_by: str | None, request_id: str) -> bool:
    """Whether a PlaceOrder request may publish its order: the first request for an id wins it.

    The winner's own request may publish again: a command redelivered after a crash re-sends
    the same order, which every consumer of `orders` treats as a duplicate.
    """
    return placed_by is None or placed_by == request_id


def supersedes(incoming: Order, current: Order | None) -> bool:
    """Whether `incoming` replaces `current` in the query side.

    A redelivered CREATED never hides a later state, and a second CREATED for a known id (from a
    producer that bypassed the API) never replaces the order that was placed first.
    """
    return current is None or STATE_RANK[incoming.state] > STATE_RANK[current.state]


@consumes(topics.order_requests, PlaceOrder.from_bytes)
async def place_orders(request: PlaceOrder) -> None:
    order = request.order
    placed_by = order_placements.get(order.id)
    if may_place(placed_by, request.request_id):
        await topics.orders.send(
            key=order.id.encode(), value=order.to_bytes(), timestamp=order.timestamp
        )
        if placed_by is None:
            order_placements[order.id] = request.request_id


@consumes(topics.orders, Order.from_bytes)
async def update_latest_orders(order: Order) -> None:
    metrics.order_events.labels(order.state.value).inc()
    current = latest_orders.get(order.id)
    if supersedes(order, current and Order.from_bytes(current)):
        latest_orders[order.id] = order.to_bytes()
