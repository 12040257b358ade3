"""`GET /v1/order-bursts?customerId=&since=`: the latest alert of each recent burst window
(agents/bursts.py), oldest window first.

With `customerId`, the owner of that customer answers. Without, every worker that owns part of
the `order_bursts` table answers for its own partitions (not its standbys), and the worker asked
merges the answers; a worker that does not answer makes it a 503, never a silently partial list.
`since` (ISO 8601 with a time zone) keeps the windows that end after it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from faust import web
from pydantic import AwareDatetime

from app.main import app
from models.requests import CustomerId
from models.state import CustomerBursts
from tables.bursts import order_bursts
from web.http import HttpError, PathParameter, timeout_seconds
from web.routing import FORWARDED_HEADER, other_owners_parts, serve_by_owner

CUSTOMER_ID = PathParameter("customerId", CustomerId)
SINCE = PathParameter("since", AwareDatetime)


@app.page("/v1/order-bursts")
class OrderBurstsView(web.View):
    async def get(self, request: web.Request) -> web.Response:
        try:
            since = request.query.get("since")
            since = SINCE.check(since) if since is not None else None
            timeout = timeout_seconds(request)
            customer = request.query.get("customerId")
            if customer is not None:
                key = str(CUSTOMER_ID.check(customer))
                return await serve_by_owner(
                    self, request, order_bursts, key,
                    lambda: self._answer(_alerts([order_bursts.get(key)], since)), timeout=timeout)
            mine = _alerts((bursts for _, bursts in order_bursts.owned_items()), since)
            if FORWARDED_HEADER in request.headers:  # asked by the worker that merges
                return await self._answer(mine)
            others = await other_owners_parts(
                order_bursts, request.path, dict(request.query), "bursts", timeout)
            return await self._answer(sorted(
                [*mine, *others], key=lambda alert: (alert["windowStart"], alert["customerId"])))
        except HttpError as error:
            return error.response(self)

    async def _answer(self, alerts: list[dict]) -> web.Response:
        return self.json({"bursts": alerts})


def _alerts(bursts: Iterable[CustomerBursts | None], since: datetime | None) -> list[dict]:
    return [
        alert.to_json()
        for customer in bursts if customer is not None
        for alert in customer.alerts if since is None or alert.window_end > since
    ]
