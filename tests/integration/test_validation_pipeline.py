"""Every order placed through the API ends VALIDATED or FAILED by the SPEC's rules."""

import asyncio
import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from app.processes import faust_command
from tests.integration.api import (
    inventory, inventory_is, new_customer, new_product, outcome, place, set_stock, states,
)
from tests.integration.conftest import eventually, unique


@pytest.fixture()
def url(orders_app) -> str:
    return orders_app.workers[0].url


async def test_ten_jumpers_in_stock_validate_ten_orders_and_fail_the_eleventh(http, url):
    jumpers = new_product()
    await set_stock(http, url, jumpers, 10)
    first_ten = [await place(http, url, product=jumpers, customer=new_customer()) for _ in range(10)]
    assert await states(http, url, first_ten) == [("VALIDATED", None)] * 10
    eleventh = await place(http, url, product=jumpers, customer=new_customer())
    assert await states(http, url, [eleventh]) == [("FAILED", ["INVENTORY_CHECK"])]
    assert await inventory(http, url, jumpers) == {
        "product": jumpers, "stock": 10, "reserved": 10, "available": 0,
    }


async def test_no_stock_fails_the_order(http, url):
    empty, never_stocked = new_product(), new_product()
    await set_stock(http, url, empty, 0)
    orders = [await place(http, url, product=p) for p in (empty, never_stocked)]
    assert await states(http, url, orders) == [("FAILED", ["INVENTORY_CHECK"])] * 2


async def test_bad_details_fail_the_order(http, url):
    product = new_product()
    await set_stock(http, url, product, 100)
    order_id = await place(http, url, product=product, quantity=0)
    assert await states(http, url, [order_id]) == [("FAILED", ["ORDER_DETAILS_CHECK"])]


async def test_the_fraud_session_fails_once_its_total_reaches_the_limit(http, url):
    product, customer = new_product(), new_customer()
    await set_stock(http, url, product, 100)
    earlier = datetime.now(timezone.utc) - timedelta(hours=3)
    session = [
        await place(http, url, product=product, customer=customer, price=price,
                    created_at=earlier + timedelta(minutes=n))
        for n, price in enumerate([1000.0, 2000.0, 5.0])
    ]
    assert await states(http, url, session) == [
        ("VALIDATED", None), ("FAILED", ["FRAUD_CHECK"]), ("FAILED", ["FRAUD_CHECK"]),
    ]
    # Over an hour later (event time) a new session starts.
    later = await place(http, url, product=product, customer=customer, price=5.0)
    assert await states(http, url, [later]) == [("VALIDATED", None)]


async def test_a_redelivered_order_changes_nothing(http, url, orders_app):
    product, customer = new_product(), new_customer()
    await set_stock(http, url, product, 2)
    first = await place(http, url, product=product, customer=customer, price=1500.0)
    assert (await outcome(http, url, first))["state"] == "VALIDATED"
    [created] = [v for k, v in await orders_app.read_topic("orders")
                 if k == first.encode() and json.loads(v)["state"] == "CREATED"]
    partition, offset = await orders_app.produce("orders", first.encode(), created)
    # A second CREATED of a known order is no news: the order-keyed side keeps the first, so the
    # checks never see it again.
    await eventually(lambda: orders_app.processed("orders", partition, offset))
    # Counted twice, 1500 + 1500 + 400 would fail fraud, and 1 + 1 + 1 units would fail stock.
    second = await place(http, url, product=product, customer=customer, price=400.0)
    assert await states(http, url, [first, second]) == [("VALIDATED", None)] * 2
    assert await inventory_is(http, url, product, reserved=2, available=0)
    terminal = [json.loads(v)["state"] for k, v in await orders_app.read_topic("orders")
                if k == first.encode() and json.loads(v)["state"] != "CREATED"]
    assert terminal == ["VALIDATED"]


async def test_a_redelivered_failing_validation_changes_nothing(http, url, orders_app):
    product = new_product()
    await set_stock(http, url, product, 5)
    order_id = await place(http, url, product=product)
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"
    late_fail = json.dumps([{"orderId": order_id, "checkType": "INVENTORY_CHECK",
                             "validationResult": "FAIL"}]).encode()  # a batch of one
    partition, offset = await orders_app.produce("order-validations", order_id.encode(), late_fail)
    await eventually(lambda: orders_app.processed("order-validations", partition, offset))
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"
    terminal = [json.loads(v)["state"] for k, v in await orders_app.read_topic("orders")
                if k == order_id.encode() and json.loads(v)["state"] != "CREATED"]
    assert terminal == ["VALIDATED"]


async def test_a_failed_order_gives_its_stock_back(http, url):
    product = new_product()
    await set_stock(http, url, product, 1)
    # Passes the inventory check (and reserves the unit), fails the details check.
    doomed = await place(http, url, product=product, customer=0)
    assert await states(http, url, [doomed]) == [("FAILED", ["ORDER_DETAILS_CHECK"])]
    await eventually(lambda: inventory_is(http, url, product, reserved=0, available=1))
    later = await place(http, url, product=product, customer=new_customer())
    assert await states(http, url, [later]) == [("VALIDATED", None)]


async def test_waiting_for_an_outcome_times_out_with_a_json_504(http, url):
    async with http.get(f"{url}/v1/orders/{unique()}/validated", params={"timeout": 200}) as r:
        assert r.status == 504
        assert "not validated or failed within 200 ms" in (await r.json())["error"]


@pytest.mark.parametrize("body", [{"stock": -1}, {"stock": "5"}, {"stock": 1.5}, {}, {"stok": 1}])
async def test_a_malformed_stock_level_gets_400(http, url, body):
    async with http.put(f"{url}/v1/inventory/{new_product()}", json=body) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "malformed request body"


async def test_inventory_of_an_unknown_product_is_zero(http, url):
    product = new_product()
    assert await inventory(http, url, product) == {
        "product": product, "stock": 0, "reserved": 0, "available": 0,
    }


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_a_malformed_product_in_the_path_gets_400(http, url, method):
    async with http.request(method, f"{url}/v1/inventory/{'S' * 40}", json={"stock": 1}) as r:
        assert r.status == 400
        assert await r.json() == {"error": "malformed product", "details": {"product": "S" * 40}}


async def test_trace_shows_an_order_move_through_the_system(http, url, orders_app):
    product = new_product()
    await set_stock(http, url, product, 5)
    order_id = await place(http, url, product=product, quantity=2)
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"
    traced = await asyncio.to_thread(
        subprocess.run, faust_command("trace", order_id), env=orders_app.workers[0].environment,
        capture_output=True, text=True, timeout=60, check=True,
    )
    # Each line: time, topic, partition@offset, what the record says, the schema id it carries.
    lines = [line.split(maxsplit=3) for line in traced.stdout.splitlines()]
    topics = [topic for _, topic, _, _ in lines]
    said = [text.rsplit("  [schema ", 1)[0] for _, _, _, text in lines]
    assert {text.rsplit("  [schema ", 1)[1] for _, _, _, text in lines} == {
        f"{await orders_app.schema_id(name)}]" for name in ("order-requests", "orders", "order-validations")}
    assert topics == ["order-requests", "orders", "orders", *["order-validations"] * 3]
    assert said[0].startswith(f"place 2 x {product} (request ")
    assert said[1:3] == ["CREATED", "VALIDATED"]
    assert sorted(said[3:]) == ["FRAUD_CHECK PASS", "INVENTORY_CHECK PASS", "ORDER_DETAILS_CHECK PASS"]
