"""Scale-out and recovery through aiokafka 0.14 against Kafka 4.3.1: consumer groups, rebalances,
a worker killed with SIGKILL, warm and cold restarts."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections import defaultdict

from tests.integration.api import (
    inventory, new_customer, new_product, outcome, place, put_customer, set_stock,
)
from app.partitioning import partition_of
from bench.recovery import BenchApp, fill_changelog
from tests.integration.conftest import eventually, eventually_nothing_wrong, unique


async def owned_partitions(http, worker, topic: str) -> list[int]:
    async with http.get(f"{worker.url}/health") as response:
        assignment = (await response.json())["assignment"]
    return sorted(int(tp[len(topic) + 1:-1]) for tp in assignment if tp.startswith(f"{topic}["))


async def read(http, worker, order_id: str) -> tuple[int, dict]:
    async with http.get(f"{worker.url}/v1/orders/{order_id}", params={"timeout": 5000}) as response:
        return response.status, await response.json()


async def get_json(http, url: str) -> tuple[int, dict]:
    params = {} if "timeout=" in url else {"timeout": 5000}
    async with http.get(url, params=params) as response:
        return response.status, await response.json()


async def split_among(http, app, workers, partitions: int = 4) -> bool:
    """Every worker owns some partitions of `orders`, and together all of them."""
    owned = [await owned_partitions(http, w, app.topic("orders")) for w in workers]
    return all(owned) and sorted(sum(owned, [])) == list(range(partitions))


async def validated_orders(http, url, count: int) -> tuple[str, int, list[dict]]:
    product, customer = new_product(), new_customer()
    await set_stock(http, url, product, 1000)
    await put_customer(http, url, customer)
    ids = [await place(http, url, product=product, customer=customer) for _ in range(count)]
    orders = [await outcome(http, url, order_id) for order_id in ids]
    assert {order["state"] for order in orders} == {"VALIDATED"}
    return product, customer, orders


async def mismatches(http, worker, product, customer, orders) -> list[str]:
    """What `worker` answers differently from what the owners hold, for every key of every GET."""
    wrong = []
    for order in orders:
        for path in (f"/v1/orders/{order['id']}", f"/v1/orders/{order['id']}/validated"):
            answer = await get_json(http, worker.url + path)
            if answer != (200, order):
                wrong.append(f"{worker.url}{path}: {answer}")
    status, levels = await get_json(http, f"{worker.url}/v1/inventory/{product}")
    if (status, levels.get("reserved")) != (200, len(orders)):
        wrong.append(f"{worker.url}/v1/inventory/{product}: {status} {levels}, want {len(orders)}")
    status, found = await get_json(http, f"{worker.url}/v1/customers/{customer}")
    if (status, found.get("id")) != (200, customer):
        wrong.append(f"{worker.url}/v1/customers/{customer}: {status} {found}")
    return wrong


async def serves_everything(http, worker, product, customer, orders) -> bool:
    """`worker` answers every key of every GET, with what the owners hold."""
    return not await mismatches(http, worker, product, customer, orders)


async def test_workers_share_the_partitions_and_every_worker_serves_every_key(new_app, http):
    app = new_app()
    first = app.add_worker()
    product, customer, orders = await validated_orders(http, first.url, 12)

    second = app.add_worker()
    await eventually(lambda: split_among(http, app, [first, second]), timeout=60)
    for worker in (first, second):
        assert await serves_everything(http, worker, product, customer, orders)
    # A POST landing on either worker is served by the owner of the id.
    for worker in (first, second):
        order_id = await place(http, worker.url, product=product, customer=customer)
        assert (await outcome(http, first.url, order_id))["state"] == "VALIDATED"
        orders.append(await outcome(http, second.url, order_id))

    second.stop()  # leaves the group: the first worker takes over and recovers its tables

    async def first_owns_all():
        return await owned_partitions(http, first, app.topic("orders")) == [0, 1, 2, 3]

    await eventually(first_owns_all, timeout=60)
    first.wait_healthy(60)
    assert await serves_everything(http, first, product, customer, orders)


async def test_a_killed_worker_is_survived_and_rejoins(new_app, http, tmp_path):
    # Six partitions, so each of three workers owns two. (With four, Faust's assignor gives
    # each worker at most two, and the third worker only standbys.)
    app = new_app({"TOPIC_PARTITIONS": "6"})
    workers = [app.add_worker(data_dir=tmp_path / f"worker-{n}") for n in range(3)]
    await eventually(lambda: split_among(http, app, workers, 6), timeout=60)
    product, customer, orders = await validated_orders(http, workers[0].url, 12)
    for worker in workers:
        assert await serves_everything(http, worker, product, customer, orders)

    victim, survivors = workers[1], [workers[0], workers[2]]
    victims_partitions = await owned_partitions(http, victim, app.topic("orders"))
    orphan = next(order_id for order_id in (unique() for _ in range(1000))
                  if partition_of(order_id, 6) in victims_partitions)
    await place(http, victim.url, product=product, customer=customer, order_id=orphan)
    orders.append(await outcome(http, victim.url, orphan))
    victim.kill()
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    # Until the group notices (SESSION_TIMEOUT_S), the owner of `orphan` is dead: a JSON 503
    # that names it, not a silent 504.
    status, error = await get_json(http, f"{survivors[0].url}/v1/orders/{orphan}?timeout=1000")
    assert status == 503 and error["details"]["owner"] == victim.url, error

    async def survivors_mismatches() -> list[str]:
        return [m for w in survivors for m in await mismatches(http, w, product, customer, orders)]

    await eventually_nothing_wrong(
        survivors_mismatches, "survivors still answer wrongly", timeout=60)
    late = await place(http, survivors[1].url, product=product, customer=customer)
    assert (await outcome(http, survivors[0].url, late))["state"] == "VALIDATED"
    assert loop.time() - killed_at < 60
    orders.append(await outcome(http, survivors[1].url, late))

    victim.start().wait_healthy()
    await eventually(lambda: split_among(http, app, workers, 6), timeout=60)
    for worker in workers:
        assert await serves_everything(http, worker, product, customer, orders)


async def test_a_worker_that_takes_partitions_over_without_standbys_restores_them(
    new_app, http, tmp_path
):
    # Without standbys, the survivor has nothing of the dead worker's partitions: it must read
    # their changelogs, in its second recovery that reads. (Once, a recovery ended at once when
    # the one before it had read something: the survivor answered "not found" for the keys it
    # took over beyond the first fetch.)
    app = new_app({"TABLE_STANDBY_REPLICAS": "0"})
    keys = 20_000  # about 5,000 records per partition: many fetches
    await fill_changelog(BenchApp(app.kafka.bootstrap, app.registry_url, tmp_path, app.app_id),
                         "order_states", range(keys))
    victim = app.add_worker(data_dir=tmp_path / "victim")
    survivor = app.add_worker(data_dir=tmp_path / "survivor")  # reads its share of the table
    await eventually(lambda: split_among(http, app, [survivor, victim]), timeout=120)
    victims = await owned_partitions(http, victim, app.topic("orders"))

    victim.kill()

    await eventually(lambda: split_among(http, app, [survivor]), timeout=60)
    sample = [f"order-{n:08d}" for n in range(0, keys, 97)]
    taken_over = [key for key in sample if partition_of(key, 4) in victims]

    async def not_served() -> list[str]:
        wrong = []
        for key in taken_over:
            status, _ = await get_json(http, f"{survivor.url}/v1/orders/{key}?timeout=0")
            if status != 200:
                wrong.append(f"{key}: {status}")
        return wrong

    await eventually_nothing_wrong(
        not_served, "keys of the dead worker's partitions the survivor does not serve", timeout=60)


def recovery_start_offsets(log: str, table: str) -> dict[int, int]:
    """From Faust's last "Reading Starts At - Active" table in `log`: partition -> offset."""
    start = log.rindex("Reading Starts At - Active")
    offsets, in_table = {}, False
    for line in log[start:].splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not line.startswith("|"):
            if offsets:
                break
            continue
        if cells[0].endswith(f"-{table}-changelog"):
            in_table = True
        elif cells[0] != "〃":
            in_table = False
        if in_table and re.fullmatch(r"-?\d+", cells[-1]):
            offsets[int(cells[1])] = int(cells[-1])
    return offsets


async def test_a_warm_restart_replays_only_the_changelog_tail(new_app, http, tmp_path):
    app = new_app()
    worker = app.add_worker(data_dir=tmp_path / "warm")
    product, customer, orders = await validated_orders(http, worker.url, 8)
    cold = recovery_start_offsets(worker.log_file.read_text(), "order_states")
    assert cold and set(cold.values()) == {-1}  # a new worker reads every changelog from the start

    worker.stop()
    worker.start().wait_healthy()
    warm = recovery_start_offsets(worker.log_file.read_text(), "order_states")
    # Restarted on its own store: it reads on from where it stopped, not from the start.
    partitions_with_orders = {p for p, offset in warm.items() if offset >= 0}
    assert partitions_with_orders and len(partitions_with_orders) >= 2
    assert await serves_everything(http, worker, product, customer, orders)


def expected_state(orders_topic, validations_topic) -> tuple[dict, dict]:
    """What the topics say: the latest event per order id, and units reserved per product."""
    latest = {}
    for key, value in orders_topic:
        order = json.loads(value)
        if order["state"] != "CREATED" or key not in latest:
            latest[key] = order
    passed = set()
    for key, value in validations_topic:
        validation = json.loads(value)
        if validation["checkType"] == "INVENTORY_CHECK" and validation["validationResult"] == "PASS":
            passed.add(key)
    reserved = defaultdict(int)
    for key in passed:
        if latest[key]["state"] != "FAILED":
            reserved[latest[key]["product"]] += latest[key]["quantity"]
    return latest, reserved


async def test_a_cold_restart_rebuilds_orders_and_reservations_exactly(new_app, http, tmp_path):
    app = new_app()
    data_dir = tmp_path / "cold"
    worker = app.add_worker(data_dir)
    url = worker.url
    products = [new_product(), new_product()]
    await set_stock(http, url, products[0], 5)
    await set_stock(http, url, products[1], 3)
    # Failed for details after reserving (released), validated, failed for stock, failed for
    # fraud: the reservations are not just a count of orders.
    ids = [await place(http, url, product=products[0], customer=0)]
    ids += [await place(http, url, product=products[n % 2], quantity=1 + n % 3) for n in range(8)]
    ids.append(await place(http, url, product=products[1], quantity=1, price=2500.0))
    for order_id in ids:
        await outcome(http, url, order_id)

    worker.stop()
    shutil.rmtree(data_dir)
    worker = app.add_worker(data_dir)

    latest, reserved = expected_state(
        await app.read_topic("orders"), await app.read_items("order-validations")
    )
    assert {order["state"] for order in latest.values()} == {"VALIDATED", "FAILED"}
    for order_id in ids:
        assert await read(http, worker, order_id) == (200, latest[order_id.encode()])
    for product in products:
        levels = await inventory(http, worker.url, product)
        assert levels["reserved"] == reserved[product], product
    # The placements table came back too: a placed id is still taken.
    body = {"id": ids[0], "customerId": 1, "product": products[0], "quantity": 5, "price": 1.0}
    async with http.post(f"{worker.url}/v1/orders", json=body) as response:
        assert response.status == 409
