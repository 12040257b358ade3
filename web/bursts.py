"""`GET /v1/order-bursts?customerId=&since=`: the latest alert of each recent burst window
(agents/bursts.py), oldest window first.

With `customerId`, the owner of that customer answers. Without, every worker that owns part of
the `order_bursts` table answers for its own partitions (not its standbys), and the worker asked
merges the answers; a worker that does not answer makes it a 503, never a silently partial list.
`since` (ISO 8601 with a time zone) keeps the windows that end after it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from faust import web
from pydantic import AwareDatetime
from yarl import URL

from app.main import app
from app.partitioning import partition_of
from models.requests import CustomerId
from tables.bursts import order_bursts
from web.http import HttpError, PathParameter, timeout_seconds
from web.routing import FORWARDED_HEADER, OwnerUnavailable, ask, same_worker, serve_by_owner

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
                    lambda: self._answer(_alerts(_owned([key]), since)), timeout=timeout)
            mine = _alerts(_owned(key for key, _ in order_bursts.items()), since)
            if FORWARDED_HEADER in request.headers:  # asked by the worker that merges
                return await self._answer(mine)
            return await self._answer(sorted(
                [*mine, *await _ask_other_owners(request, timeout)],
                key=lambda alert: (alert["windowStart"], alert["customerId"])))
        except HttpError as error:
            return error.response(self)

    async def _answer(self, alerts: list[dict]) -> web.Response:
        return self.json({"bursts": alerts})


def _owned(keys) -> list[str]:
    """The keys of `order_bursts` in this worker's active partitions."""
    owned, partitions = order_bursts.active_partitions()
    return [key for key in keys if partition_of(key, partitions) in owned]


def _alerts(keys: list[str], since: datetime | None) -> list[dict]:
    return [
        alert.to_json()
        for key in keys if (bursts := order_bursts.get(key)) is not None
        for alert in bursts.alerts if since is None or alert.window_end > since
    ]


async def _ask_other_owners(request: web.Request, timeout: float) -> list[dict]:
    me = URL(str(app.conf.canonical_url))
    others = [URL(url) for url in app.router.table_metadata(order_bursts.name)
              if not same_worker(URL(url), me)]
    answers = await asyncio.gather(*(_ask(owner, request, timeout) for owner in others))
    return [alert for answer in answers for alert in answer]


async def _ask(owner: URL, request: web.Request, timeout: float) -> list[dict]:
    status, answer = await ask(owner, request.path, dict(request.query), timeout)
    if status != 200:
        raise OwnerUnavailable(
            f"a worker that owns part of the bursts answered {status}", {"owner": str(owner)})
    return answer["bursts"]
