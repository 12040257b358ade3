"""Consumer groups, rebalances and table recovery through aiokafka 0.14 against Kafka 4.3.1."""

import shutil

from tests.integration.conftest import eventually, unique


async def owned_partitions(http, worker, topic: str) -> list[int]:
    async with http.get(f"{worker.url}/health") as response:
        assignment = (await response.json())["assignment"]
    return sorted(int(tp[len(topic) + 1:-1]) for tp in assignment if tp.startswith(f"{topic}["))


async def place(http, worker, order_id: str) -> dict:
    """POST an order and return it once validated or failed (its last state)."""
    body = {"id": order_id, "customerId": 4, "product": "STOCKINGS", "quantity": 1, "price": 3.0}
    async with http.post(f"{worker.url}/v1/orders", json=body) as response:
        assert response.status == 201, await response.text()
    url = f"{worker.url}/v1/orders/{order_id}/validated"
    async with http.get(url, params={"timeout": 20000}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def read(http, worker, order_id: str) -> tuple[int, dict]:
    async with http.get(f"{worker.url}/v1/orders/{order_id}", params={"timeout": 5000}) as response:
        return response.status, await response.json()


async def test_workers_share_the_partitions_and_every_worker_serves_every_key(new_app, http):
    app = new_app()
    first = app.add_worker()
    placed = {order_id: await place(http, first, unique()) for order_id in range(12)}

    second = app.add_worker()
    orders_topic = app.topic("orders")

    async def split_between_both():
        owned = [await owned_partitions(http, w, orders_topic) for w in (first, second)]
        return owned if all(owned) and sorted(owned[0] + owned[1]) == [0, 1, 2, 3] else None

    await eventually(split_between_both, timeout=60)
    for worker in (first, second):
        for order in placed.values():
            assert await read(http, worker, order["id"]) == (200, order)
    # A POST landing on either worker is served by the owner of the id.
    for worker in (first, second):
        order = await place(http, worker, unique())
        assert await read(http, first, order["id"]) == (200, order)

    second.stop()  # leaves the group: the first worker takes over and recovers its tables

    async def first_owns_all():
        return await owned_partitions(http, first, orders_topic) == [0, 1, 2, 3]

    await eventually(first_owns_all, timeout=60)
    first.wait_healthy(60)
    for order in placed.values():
        assert await read(http, first, order["id"]) == (200, order)


async def test_a_cold_restart_rebuilds_the_tables_from_their_changelogs(new_app, http, tmp_path):
    app = new_app()
    data_dir = tmp_path / "cold"
    worker = app.add_worker(data_dir)
    placed = [await place(http, worker, unique()) for _ in range(8)]

    worker.stop()
    shutil.rmtree(data_dir)
    worker = app.add_worker(data_dir)

    for order in placed:
        assert await read(http, worker, order["id"]) == (200, order)
    # The placements table came back too: a placed id is still taken.
    body = {key: placed[0][key] for key in ("id", "customerId", "product", "price")}
    body["quantity"] = 5
    async with http.post(f"{worker.url}/v1/orders", json=body) as response:
        assert response.status == 409
