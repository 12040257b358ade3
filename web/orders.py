"""`POST /v1/orders` (the command side) and `GET /v1/orders/{id}` (the query side).

POST is served by the worker that owns the order id: it sends a PlaceOrder command and waits
until the Orders service has decided who placed that id, so of concurrent POSTs of one id one
gets 201 and downstream sees one order. The others, and any later POST of the id, are retries
or conflicts: the same order again (same fields, `createdAt` left out or equal) gets 200 with
the stored order, a different one 409 with the stored order in `details`. So a client that got
a 503, a 504 or a dropped connection retries with the same body and learns what happened.

If the order id moves to another worker while the POST waits (a rebalance), that worker places
the command, so the wait moves there: the POST is handed over with its request id, and the new
owner answers as the old one would have (it sends the command again, which changes nothing: the
first request for an id wins it, and that request may send it again).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Awaitable, Callable

from faust import web

from app import topics
from app.main import app
from models.records import Order, OrderState, PlaceOrder
from models.requests import NewOrder, OrderId
from models.state import OrderRecord
from tables.orders import order_states
from web.http import (
    HttpError, PathParameter, outcome_unknown, parse_body, publish, read_body, timeout_seconds,
)
from web.routing import (
    FORWARDED_HEADER, REQUEST_ID_HEADER, OwnerUnavailable, forward, other_owner, serve_by_owner,
)

ORDER_ID = PathParameter("order id", OrderId)
#: How often a POST waiting for its order checks that this worker still owns the order id.
OWNER_CHECK_S = 1.0


@app.page("/v1/orders")
class OrdersView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request)
            asked = parse_body(NewOrder, body)
            order = asked.to_order()
            timeout = timeout_seconds(request)
            handed_over = FORWARDED_HEADER in request.headers
            request_id = request.headers.get(REQUEST_ID_HEADER) if handed_over else None

            def place() -> Awaitable[web.Response]:
                return self._place(
                    request, body, asked, order, timeout, request_id or uuid.uuid4().hex)

            return await serve_by_owner(
                self, request, order_states, order.id, place, body=body, timeout=timeout
            )
        except HttpError as error:
            return outcome_unknown(error).response(self)

    async def _place(
        self, request: web.Request, body: bytes, asked: NewOrder, order: Order, timeout: float,
        request_id: str,
    ) -> web.Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if _placed_by(order_states.get(order.id)) not in (None, request_id):
            return await self._placed_before(asked, deadline)
        command = PlaceOrder(request_id=request_id, order=order)
        await publish(topics.order_requests, order.id, command.to_bytes(), timeout, order.timestamp)
        while True:
            try:
                record = await order_states.wait_for(
                    order.id, lambda record: _placed_by(record) is not None,
                    min(deadline - loop.time(), OWNER_CHECK_S),
                )
                break
            except TimeoutError:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise HttpError(
                        504, f"order {order.id} was not confirmed within {timeout * 1000:.0f} ms",
                        {"hint": f"GET /v1/orders/{order.id} tells whether it was placed"},
                    ) from None
                owner = other_owner(order_states, order.id)
                if owner is not None:
                    try:
                        return await forward(self, request, owner, body, remaining, request_id)
                    except OwnerUnavailable:
                        pass  # not reachable yet: wait here, and look again
        if record.placed_by != request_id:
            return await self._placed_before(asked, deadline)
        return self.json(
            order.to_json(), status=201, headers={"Location": f"/v1/orders/{order.id}"}
        )

    async def _placed_before(self, asked: NewOrder, deadline: float) -> web.Response:
        """Another request placed the id: 200 with the stored order if `asked` is that order
        again, 409 if not. Waits until the order is read back from `orders` (just after its
        request won the id)."""
        try:
            record = await order_states.wait_for(
                asked.id, lambda record: record is not None and record.latest is not None,
                max(deadline - asyncio.get_running_loop().time(), 0.0))
        except TimeoutError:
            raise HttpError(504, f"order {asked.id} exists but was not read back in time",
                            {"hint": f"GET /v1/orders/{asked.id} answers once it is"}) from None
        stored = record.latest
        if not asked.same_as(stored):
            raise HttpError(409, f"order {asked.id} already exists, with other fields",
                            {"stored": stored.to_json()})
        return self.json(
            stored.to_json(), status=200, headers={"Location": f"/v1/orders/{asked.id}"})


@app.page("/v1/orders/{order_id}")
class OrderView(web.View):
    """The latest state of an order, as soon as the order exists."""

    async def get(self, request: web.Request, order_id: str) -> web.Response:
        return await _wait_for_order(self, request, order_id, lambda order: True, "found")


@app.page("/v1/orders/{order_id}/validated")
class ValidatedOrderView(web.View):
    """The order once it is VALIDATED or FAILED (with `failedChecks`)."""

    async def get(self, request: web.Request, order_id: str) -> web.Response:
        return await _wait_for_order(self, request, order_id, is_decided, "validated or failed")


def _placed_by(record: OrderRecord | None) -> str | None:
    return record.placed_by if record is not None else None


def is_decided(order: Order) -> bool:
    """VALIDATED or FAILED (or any later state)."""
    return order.state != OrderState.CREATED


async def _wait_for_order(
    view: web.View, request: web.Request, order_id: str, ready: Callable[[Order], bool],
    awaited: str,
) -> web.Response:
    """Long-poll the query side (`latest` of `order_states`) on the owner of `order_id` until
    `ready(order)`."""

    def answer(record: OrderRecord | None) -> bool:
        return record is not None and record.latest is not None and ready(record.latest)

    async def serve() -> web.Response:
        try:
            record = await order_states.wait_for(order_id, answer, timeout)
        except TimeoutError:
            raise HttpError(
                504, f"order {order_id} not {awaited} within {timeout * 1000:.0f} ms"
            ) from None
        return view.bytes(record.latest.to_bytes(), content_type="application/json")

    try:
        ORDER_ID.check(order_id)
        timeout = timeout_seconds(request)
        return await serve_by_owner(
            view, request, order_states, order_id, serve, timeout=timeout
        )
    except HttpError as error:
        return error.response(view)

