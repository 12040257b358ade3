"""`PUT /v1/inventory/{product}` sets a stock level; `GET` tells stock, reserved and available.
`GET /v1/inventory` tells them for every product: each worker that owns part of the table answers
for its own partitions, and the worker asked merges the answers (a 503 if one does not answer)."""

from __future__ import annotations

from faust import web

from app import topics
from app.main import app
from models.requests import Sku, StockLevel
from models.state import StockReservations
from tables.inventory import stock_reservations
from web.http import HttpError, PathParameter, parse_body, publish, read_body, timeout_seconds
from web.routing import FORWARDED_HEADER, other_owners_parts, serve_by_owner

PRODUCT = PathParameter("product", Sku)


@app.page("/v1/inventory/{product}")
class InventoryView(web.View):
    async def put(self, request: web.Request, product: str) -> web.Response:
        """Publish the level to `warehouse-inventory`; 200 once the broker acknowledged it."""
        try:
            PRODUCT.check(product)
            level = parse_body(StockLevel, await read_body(request))
            await publish(
                topics.warehouse_inventory, product, str(level.stock).encode(),
                timeout_seconds(request),
            )
        except HttpError as error:
            return error.response(self)
        return self.json({"product": product, "stock": level.stock})

    async def get(self, request: web.Request, product: str) -> web.Response:
        try:
            PRODUCT.check(product)
            return await serve_by_owner(
                self, request, stock_reservations, product, lambda: self._levels(product),
                timeout=timeout_seconds(request),
            )
        except HttpError as error:
            return error.response(self)

    async def _levels(self, product: str) -> web.Response:
        return self.json(levels(product, stock_reservations.get(product)))


@app.page("/v1/inventory")
class InventoryListView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        try:
            if FORWARDED_HEADER in request.headers:  # asked by the worker that merges
                return self.json({"inventory": owned_levels()})
            return self.json({"inventory": await every_level(timeout_seconds(request))})
        except HttpError as error:
            return error.response(self)


def levels(product: str, reservations: StockReservations | None) -> dict:
    reservations = reservations or StockReservations()
    stock, reserved = reservations.stock, reservations.reserved
    return {"product": product, "stock": stock, "reserved": reserved, "available": stock - reserved}


def owned_levels() -> list[dict]:
    """The levels of the products in this worker's partitions."""
    return [levels(product, held) for product, held in stock_reservations.owned_items()]


async def every_level(timeout: float) -> list[dict]:
    """The levels of every product, from every worker that owns some, by product."""
    others = await other_owners_parts(stock_reservations, "/v1/inventory", {}, "inventory", timeout)
    return sorted([*owned_levels(), *others], key=lambda level: level["product"])

