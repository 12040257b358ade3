"""`POST /v1/orders` (the command side) and `GET /v1/orders/{id}` (the query side).

POST is served by the worker that owns the order id: it sends a PlaceOrder command and waits
until the Orders service has decided who placed that id, so two concurrent POSTs of one id get
one 201 and one 409, and downstream sees one order.
"""

from __future__ import annotations

import asyncio
import uuid

from faust import web
from pydantic import TypeAdapter, ValidationError

from app import topics
from app.main import app
from models.records import Order, PlaceOrder
from models.requests import NewOrder, OrderId
from tables.orders import latest_orders, order_placements
from web.http import HttpError, parse_body, read_body, timeout_seconds
from web.routing import serve_by_owner

_order_id = TypeAdapter(OrderId)


@app.page("/v1/orders")
class OrdersView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request)
            order = parse_body(NewOrder, body).to_order()
            timeout = timeout_seconds(request)
            return await serve_by_owner(
                self, request, order_placements, order.id,
                lambda: self._place(order, timeout), body=body, timeout=timeout,
            )
        except HttpError as error:
            return error.response(self)

    async def _place(self, order: Order, timeout: float) -> web.Response:
        if order_placements.get(order.id) is not None:
            raise HttpError(409, f"order {order.id} already exists")
        request_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        command = PlaceOrder(request_id=request_id, order=order)
        try:
            acked = await topics.order_requests.send(
                key=order.id.encode(), value=command.to_bytes(), timestamp=order.timestamp
            )
            await asyncio.wait_for(asyncio.shield(acked), timeout)
            placed_by = await order_placements.wait_for(
                order.id, lambda value: value is not None, deadline - loop.time()
            )
        except (TimeoutError, asyncio.TimeoutError):
            raise HttpError(
                504, f"order {order.id} was not confirmed within {timeout * 1000:.0f} ms",
                {"hint": f"GET /v1/orders/{order.id} tells whether it was placed"},
            ) from None
        if placed_by != request_id:
            raise HttpError(409, f"order {order.id} already exists")
        return self.json(
            order.to_json(), status=201, headers={"Location": f"/v1/orders/{order.id}"}
        )


@app.page("/v1/orders/{order_id}")
class OrderView(web.View):
    async def get(self, request: web.Request, order_id: str) -> web.Response:
        try:
            _check_order_id(order_id)
            timeout = timeout_seconds(request)
            return await serve_by_owner(
                self, request, latest_orders, order_id,
                lambda: self._latest(order_id, timeout), timeout=timeout,
            )
        except HttpError as error:
            return error.response(self)

    async def _latest(self, order_id: str, timeout: float) -> web.Response:
        try:
            order = await latest_orders.wait_for(order_id, lambda v: v is not None, timeout)
        except TimeoutError:
            raise HttpError(
                504, f"order {order_id} not found within {timeout * 1000:.0f} ms"
            ) from None
        return self.bytes(order, content_type="application/json")


def _check_order_id(order_id: str) -> None:
    try:
        _order_id.validate_python(order_id)
    except ValidationError:
        raise HttpError(400, "malformed order id", {"id": order_id}) from None
