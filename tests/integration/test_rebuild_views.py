"""`faust -A app rebuild VIEW` and `faust -A app check` against the real broker: after a normal
run every view rebuilt from its source equals the live table; a value planted in a live table is
found, and `--apply` repairs it in the running worker."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer, TopicPartition

from app.logs import read_to_end
from app.partitioning import partition_of
from app.settings import Settings
from tests.integration.api import (
    inventory, inventory_is, new_customer, new_product, outcome, place, put_customer, set_stock,
)
from tests.integration.conftest import assert_views_consistent, eventually, run_command

#: Commits every 2 s: the changelogs the commands read trail the source by at most that.
SETTINGS = {"COMMIT_INTERVAL_S": "2"}


async def orders_run(http, url) -> tuple[str, int, list[dict]]:
    """Stock, a customer and orders: 3 VALIDATED, then one FAILED for want of stock."""
    product, customer = new_product(), new_customer()
    await set_stock(http, url, product, 3)
    await put_customer(http, url, customer)
    ids = [await place(http, url, product=product, customer=customer) for _ in range(4)]
    orders = [await outcome(http, url, order_id) for order_id in ids]
    assert [order["state"] for order in orders] == ["VALIDATED"] * 3 + ["FAILED"]
    return product, customer, orders


async def plant(app, changelog: str, key: str, value: dict) -> None:
    """A wrong value in a table's changelog, as a bug in an agent would have written it."""
    producer_topic = f"{app.app_id}-{changelog}-changelog"
    partition = partition_of(key, app.worker_settings.topic_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=app.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(producer_topic, key=key.encode(),
                                     value=json.dumps(value).encode(), partition=partition)
    finally:
        await producer.stop()


async def test_every_view_rebuilt_from_its_source_equals_the_live_table(new_app, http):
    app = new_app(SETTINGS)
    worker = app.add_worker()
    await orders_run(http, worker.url)
    await eventually(lambda: app.caught_up("orders-by-product"), timeout=60)

    checked = await run_command(worker, "check")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip().endswith("consistent")
    for view in ("orders", "customers", "stock", "fraud"):
        assert f"view {view}:" in checked.stdout
    assert checked.stdout.count("differences: 0") == 4, checked.stdout


async def test_a_planted_difference_is_found_and_repaired_in_the_running_worker(new_app, http):
    app = new_app(SETTINGS)
    worker = app.add_worker()
    product, customer, orders = await orders_run(http, worker.url)
    await eventually(lambda: app.caught_up("orders-by-product"), timeout=60)
    levels = await inventory(http, worker.url, product)
    assert levels["reserved"] == 3
    validated = orders[0]

    # A bug's writes, restored by the worker from the changelogs: 5 units reserved instead of 3,
    # and a VALIDATED order shown as CREATED.
    worker.stop()
    stock_record = await live_value(app, "stock_reservations", product)
    await plant(app, "stock_reservations", product, {**stock_record, "reserved": 5})
    order_record = await live_value(app, "order_states", validated["id"])
    await plant(app, "order_states", validated["id"],
                {**order_record, "latest": {**order_record["latest"], "state": "CREATED"}})
    worker.start().wait_healthy()
    assert (await inventory(http, worker.url, product))["reserved"] == 5
    async with http.get(f"{worker.url}/v1/orders/{validated['id']}") as answer:
        assert (await answer.json())["state"] == "CREATED"

    found = await run_command(worker, "rebuild", "stock")
    assert found.returncode == 1, found.stdout + found.stderr
    assert "differences: 1" in found.stdout and product in found.stdout
    assert '"reserved":5' in found.stdout and '"reserved":3' in found.stdout
    checked = await run_command(worker, "check")
    assert checked.returncode == 1
    assert "2 keys differ" in checked.stdout, checked.stdout

    for view in ("stock", "orders"):
        applied = await run_command(worker, "rebuild", view, "--apply")
        assert "applied: 1 key repaired, 0 not" in applied.stdout, applied.stdout + applied.stderr
        assert applied.returncode == 0

    # The running worker serves the repaired values, and goes on from them.
    assert await inventory_is(http, worker.url, product, reserved=3)
    async with http.get(f"{worker.url}/v1/orders/{validated['id']}") as answer:
        assert (await answer.json())["state"] == "VALIDATED"
    await set_stock(http, worker.url, product, 4)
    late = await outcome(http, worker.url, await place(http, worker.url, product=product,
                                                       customer=customer))
    assert late["state"] == "VALIDATED"  # 4 in stock, 3 reserved: one more fits
    await eventually(lambda: app.caught_up("orders-by-product"), timeout=60)
    await assert_views_consistent(worker)


async def live_value(app, table: str, key: str) -> dict:
    """The latest value of `key` in a table's changelog."""
    partition = TopicPartition(f"{app.app_id}-{table}-changelog",
                               partition_of(key, app.worker_settings.topic_partitions))
    value = None
    async for batch in read_to_end(Settings(kafka_bootstrap=app.kafka.bootstrap), [partition]):
        for record in batch:
            if record.key == key.encode():
                value = record.value
    assert value is not None, (table, key)
    return json.loads(value)
