"""`API_TOKEN` and `API_READ_TOKEN` on real workers: writes need the write token, reads either
token, `/health` and the dashboard's page neither; a request forwarded to the owner of its key
keeps its token, and a worker asking another for its part sends its own."""

from __future__ import annotations

from itertools import count

from app.partitioning import partition_of
from tests.integration.api import split_between
from tests.integration.conftest import unique

WRITE, READ = "write-s3cret", "read-s3cret"


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def test_writes_need_the_write_token_and_reads_the_read_token_through_forwarding(
    new_app, http
):
    app = new_app({"API_TOKEN": WRITE, "API_READ_TOKEN": READ})
    first, second = app.add_worker(), app.add_worker()

    _, theirs = await split_between(http, app, first, second)
    order_id = next(o for o in (unique() for _ in count()) if partition_of(o, 4) in theirs)
    order = {"id": order_id, "customerId": 1, "product": "JUMPERS", "quantity": 1, "price": 2.0}

    async def post(token):
        async with http.post(f"{first.url}/v1/orders", json=order, headers=bearer(token)) as answer:
            return answer.status, await answer.json()

    for token in (None, "wrong", READ):
        status, body = await post(token)
        assert status == 401, (token, body)
        assert "Authorization: Bearer" in body["error"]
    status, placed = await post(WRITE)  # to the second worker, which owns the id, token and all
    assert status == 201 and placed["id"] == order_id

    async def get(path, token, worker=first):
        async with http.get(f"{worker.url}{path}", headers=bearer(token)) as answer:
            return answer.status

    assert await get(f"/v1/orders/{order_id}", None) == 401
    assert await get(f"/v1/orders/{order_id}", "wrong") == 401
    assert await get(f"/v1/orders/{order_id}", READ) == 200  # forwarded with the token
    assert await get(f"/v1/orders/{order_id}", WRITE) == 200
    assert await get("/v1/inventory", READ) == 200  # each worker asked with the first's own token
    assert await get("/metrics", None) == 401
    assert await get("/health", None) == 200
    assert await get("/", None) == 200
