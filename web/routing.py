"""Serving a request on the worker that owns its key.

Faust's `table_route` forwards GETs only (it drops bodies), passes the Host header on, has no
timeout, and turns an unreachable owner into a 500. This router finds the owner from the same
partition assignment (`app.router.table_metadata`) and forwards any method with its body.

While no worker owns the key (a rebalance) or the owner cannot be reached (it died, and the group
has not noticed yet), the router looks the owner up again every RETRY_INTERVAL_S until the
request's timeout, then answers 503 with a JSON error, never a silent wait. A POST is retried
only when its connection failed, so the owner never saw it: a second try of a POST the owner
did get would be a second command. (The one exception is `POST /v1/orders` handing its wait to
a new owner, web/orders.py: it sends its request id along, which makes a second try harmless.)
A forwarded request carries what is left of its timeout as its `?timeout=`.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import aiohttp
from faust import web
from faust.tables import Collection
from yarl import URL

from app.main import app
from app.partitioning import partition_of
from web.auth import own_token
from web.http import HttpError

#: Marks a forwarded request: it is served where it lands, so a stale assignment can't loop it.
FORWARDED_HEADER = "X-Orders-Forwarded-By"
#: A forwarded request's extra context (the request id of a POST whose wait moved to a new owner).
REQUEST_ID_HEADER = "X-Orders-Request-Id"
#: Time a forwarded request may take beyond its own timeout (network, owner's scheduling).
FORWARD_SLACK_S = 5.0
#: How often an unreachable or missing owner is looked up again.
RETRY_INTERVAL_S = 0.5


class OwnerUnavailable(HttpError):
    """503: no owner, or an owner that did not answer; `retryable` if trying again is safe."""

    def __init__(self, error: str, details: object = None, *, retryable: bool = True) -> None:
        super().__init__(503, error, details)
        self.retryable = retryable


async def serve_by_owner(
    view: web.View,
    request: web.Request,
    table: Collection,
    key: str,
    serve: Callable[[], Awaitable[web.Response]],
    *,
    body: bytes | None = None,
    timeout: float,
) -> web.Response:
    """Run `serve()` here if this worker owns `key` in `table`, else forward to the owner.

    `timeout` (seconds) bounds the wait for an owner as well as what `serve()` waits for.
    """
    if FORWARDED_HEADER in request.headers:
        return await serve()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            owner = owner_of(table, key)
            if owner is None:
                raise OwnerUnavailable("no worker owns this key yet (the group is rebalancing)")
            if same_worker(owner, URL(str(app.conf.canonical_url))):
                return await serve()
            remaining = max(deadline - loop.time(), 0.0)
            return await forward(view, request, owner, body, remaining)
        except OwnerUnavailable as unavailable:
            if not unavailable.retryable or loop.time() + RETRY_INTERVAL_S > deadline:
                raise
        await asyncio.sleep(RETRY_INTERVAL_S)


def other_owner(table: Collection, key: str) -> URL | None:
    """The owner of `key` if that is another worker; None if it is this one, or no one yet."""
    owner = owner_of(table, key)
    if owner is None or same_worker(owner, URL(str(app.conf.canonical_url))):
        return None
    return owner


def owner_of(table: Collection, key: str) -> URL | None:
    """The worker whose active partitions hold `key` in `table`, per the current assignment.

    The partition is hashed here as the producer hashes keys when it sends (murmur2 over the
    partition count). Faust's `key_store` asks the producer instead, which fails on a fresh
    worker that has not yet written to the table's changelog (no metadata for it: a 500).
    """
    topic = table.changelog_topic
    partition = partition_of(key, topic.partitions or app.conf.topic_partitions)
    for url, assigned in app.router.table_metadata(table.name).items():
        if partition in assigned.get(topic.get_topic_name(), ()):
            return URL(url)
    return None


async def ask(owner: URL, path: str, query: dict[str, str], timeout: float) -> tuple[int, dict]:
    """GET `path` from the worker `owner`, to be served there (FORWARDED_HEADER): its status and
    JSON. Raises OwnerUnavailable if it does not answer."""
    url = owner.with_path(path).with_query({**query, "timeout": str(int(timeout * 1000))})
    headers = {FORWARDED_HEADER: str(app.conf.canonical_url)}
    if (token := own_token()) is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with app.http_client.get(
            url, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout + FORWARD_SLACK_S),
        ) as answer:
            return answer.status, await answer.json()
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise OwnerUnavailable(
            "a worker that owns part of the answer did not answer",
            {"owner": str(owner), "reason": str(exc) or type(exc).__name__},
        ) from None


async def other_owners_parts(
    table: Collection, path: str, query: dict[str, str], field: str, timeout: float,
) -> list[dict]:
    """The items under `field` that every other worker owning part of `table` answers to a GET
    of `path` for its own partitions (FORWARDED_HEADER), in one list. Raises OwnerUnavailable if
    one does not answer, or answers anything but 200: never a silently partial list."""
    me = URL(str(app.conf.canonical_url))
    others = [URL(url) for url in app.router.table_metadata(table.name)
              if not same_worker(URL(url), me)]

    async def part(owner: URL) -> list[dict]:
        status, answer = await ask(owner, path, query, timeout)
        if status != 200:
            raise OwnerUnavailable(f"a worker that owns part of the answer answered {status}",
                                   {"owner": str(owner)})
        return answer[field]

    return [item for items in await asyncio.gather(*map(part, others)) for item in items]


def same_worker(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)


async def forward(
    view: web.View, request: web.Request, owner: URL, body: bytes | None, timeout: float,
    request_id: str | None = None,
) -> web.Response:
    """Send `request` to `owner` with `timeout` (s) as its `?timeout=`, and pass its answer on.

    `request_id` goes along in REQUEST_ID_HEADER. Raises OwnerUnavailable if the owner does not
    answer.
    """
    query = {**request.query, "timeout": str(int(timeout * 1000))}
    url = owner.with_path(request.path).with_query(query)
    headers = {FORWARDED_HEADER: str(app.conf.canonical_url)}
    if "Authorization" in request.headers:  # the owner checks the client's token too
        headers["Authorization"] = request.headers["Authorization"]
    if request_id is not None:
        headers[REQUEST_ID_HEADER] = request_id
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with app.http_client.request(
            request.method, url, data=body, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout + FORWARD_SLACK_S),
        ) as response:
            payload = await response.read()
            passed_on = {k: v for k, v in response.headers.items() if k in ("Location",)}
            return view.bytes(
                payload, content_type=response.content_type, status=response.status,
                headers=passed_on,
            )
    except Exception as exc:
        # aiohttp's errors, timeouts, OSError; and aiohttp 3.14 can also raise AttributeError
        # from `ClientResponse.start` when the owner dies in the middle of its answer (seen
        # as 500s while a worker was killed under load): whatever it is, the owner did not
        # answer.
        never_arrived = isinstance(exc, aiohttp.ClientConnectorError)
        raise OwnerUnavailable(
            "the worker that owns this key did not answer",
            {"owner": str(owner), "reason": str(exc) or type(exc).__name__},
            retryable=never_arrived or request.method == "GET",
        ) from None
