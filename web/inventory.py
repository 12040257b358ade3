"""`PUT /v1/inventory/{product}` sets a stock level; `GET` tells stock, reserved and available."""

from __future__ import annotations

from faust import web

from app import topics
from app.main import app
from models.requests import Sku, StockLevel
from models.state import StockReservations
from tables.inventory import stock_reservations
from web.http import HttpError, PathParameter, parse_body, publish, read_body, timeout_seconds
from web.routing import serve_by_owner

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
        reservations = stock_reservations.get(product) or StockReservations()
        stock, reserved = reservations.stock, reservations.reserved
        return self.json(
            {"product": product, "stock": stock, "reserved": reserved, "available": stock - reserved}
        )

