"""The write and read path of orders, through HTTP, the real broker and a real worker."""

import asyncio
import json

import pytest

from app import topics
from tests.integration.conftest import placed, unique


def new_order(order_id: str, **changes) -> dict:
    return {"id": order_id, "customerId": 3, "state": "CREATED", "product": "JUMPERS",
            "quantity": 2, "price": 12.5, **changes}


@pytest.fixture()
def url(orders_app) -> str:
    return orders_app.workers[0].url


async def post(http, url, body, **params):
    async with http.post(f"{url}/v1/orders", json=body, params=params) as response:
        return response.status, response.headers, await response.json()


async def get(http, url, order_id, timeout_ms=10_000):
    async with http.get(f"{url}/v1/orders/{order_id}", params={"timeout": timeout_ms}) as response:
        return response.status, await response.json()


async def test_a_posted_order_is_created_and_read_back(http, url):
    order_id = unique()
    status, headers, body = await post(http, url, new_order(order_id))
    assert status == 201
    assert headers["Location"] == f"/v1/orders/{order_id}"
    assert body["state"] == "CREATED" and body["createdAt"]
    status, read = await get(http, url, order_id)
    assert status == 200
    assert placed(read) == placed(body)


async def test_a_waiting_get_answers_when_the_order_lands(http, url):
    order_id = unique()
    waiting = [asyncio.ensure_future(get(http, url, order_id)) for _ in range(20)]
    await asyncio.sleep(0.5)
    assert not any(w.done() for w in waiting)
    status, _, created = await post(http, url, new_order(order_id))
    assert status == 201
    answers = await asyncio.wait_for(asyncio.gather(*waiting), timeout=15)
    assert [(status, placed(order)) for status, order in answers] == [(200, placed(created))] * 20


async def test_an_absent_order_times_out_with_a_json_504(http, url):
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await get(http, url, unique(), timeout_ms=300)
    assert status == 504
    assert "not found within 300 ms" in body["error"]
    assert 0.3 <= loop.time() - started < 5


async def test_another_order_under_a_taken_id_is_a_conflict_naming_the_stored_order(http, url):
    order_id = unique()
    assert (await post(http, url, new_order(order_id)))[0] == 201
    status, _, body = await post(http, url, new_order(order_id, quantity=9))
    assert status == 409
    assert body["error"] == f"order {order_id} already exists, with other fields"
    assert body["details"]["stored"]["quantity"] == 2
    assert (await get(http, url, order_id))[1]["quantity"] == 2


async def test_the_same_order_again_is_a_200_with_the_stored_order_and_writes_nothing(
    http, url, orders_app
):
    order_id = unique()
    status, _, first = await post(http, url, new_order(order_id))
    assert status == 201
    for body in (new_order(order_id), new_order(order_id, createdAt=first["createdAt"])):
        status, headers, again = await post(http, url, body)
        assert status == 200
        assert headers["Location"] == f"/v1/orders/{order_id}"
        assert (again["id"], again["quantity"], again["createdAt"]) == (
            order_id, 2, first["createdAt"])
    status, _, _ = await post(http, url, new_order(order_id, createdAt="2026-01-01T00:00:00Z"))
    assert status == 409  # another time is another order
    requests = [key for key, _ in await orders_app.read_topic("order-requests")
                if key == order_id.encode()]
    assert len(requests) == 1


async def test_concurrent_posts_of_one_id_create_one_order_downstream(http, url, orders_app):
    order_id = unique()
    answers = await asyncio.gather(
        *(post(http, url, new_order(order_id, quantity=n)) for n in range(1, 11))
    )
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201] + [409] * 9
    [winner] = [body for status, _, body in answers if status == 201]
    records = [
        json.loads(value) for key, value in await orders_app.read_topic("orders")
        if key == order_id.encode()
    ]
    created = [record["quantity"] for record in records if record["state"] == "CREATED"]
    assert created == [winner["quantity"]]


async def test_concurrent_retries_of_one_order_get_one_201_and_200s(http, url, orders_app):
    order_id = unique()
    answers = await asyncio.gather(*(post(http, url, new_order(order_id)) for _ in range(10)))
    assert sorted(status for status, _, _ in answers) == [200] * 9 + [201]
    assert len({body["createdAt"] for _, _, body in answers}) == 1  # all the one stored order
    records = [json.loads(value) for key, value in await orders_app.read_topic("orders")
               if key == order_id.encode()]
    assert [record["state"] for record in records].count("CREATED") == 1


async def pay(http, url, body):
    async with http.post(f"{url}/v1/payments", json=body) as response:
        return response.status, await response.json()


async def test_a_payment_id_takes_one_payment_retries_get_200_and_others_409(http, url, orders_app):
    payment = {"id": unique("payment"), "orderId": unique(), "ccy": "EUR", "amount": 25.0}
    answers = await asyncio.gather(*(pay(http, url, payment) for _ in range(5)))
    assert sorted(status for status, _ in answers) == [200] * 4 + [201]
    assert len({body["createdAt"] for _, body in answers}) == 1
    status, body = await pay(http, url, {**payment, "amount": 26.0})
    assert status == 409 and body["details"]["stored"]["amount"] == 25.0
    written = [key for key, _ in await orders_app.read_topic("payments")
               if key == payment["id"].encode()]
    assert len(written) == 1


async def test_business_rules_are_not_judged_at_the_door(http, url):
    status, _, body = await post(http, url, new_order(unique(), quantity=0, price=-1))
    assert status == 201
    assert (body["quantity"], body["price"]) == (0, -1)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"customerId": "three"}, "customerId"),
        ({"quantity": None}, "quantity"),
        ({"product": "no spaces"}, "product"),
        ({"id": "bad/id"}, "id"),
        ({"id": "x" * 100}, "id"),
        ({"state": "VALIDATED"}, "state"),
        ({"price": "free"}, "price"),
    ],
)
async def test_a_malformed_order_gets_400_naming_the_field(http, url, body, field):
    status, _, answer = await post(http, url, new_order(unique(), **body))
    assert status == 400
    assert answer["error"] == "malformed request body"
    assert [problem["field"] for problem in answer["details"]] == [field]


async def test_a_missing_field_gets_400(http, url):
    body = new_order(unique())
    del body["price"]
    status, _, answer = await post(http, url, body)
    assert (status, answer["details"]) == (400, [{"field": "price", "problem": "Field required"}])


@pytest.mark.parametrize("payload", [b"not json", b"", b"[1, 2]", b'{"id": '])
async def test_a_body_that_is_not_an_order_object_gets_400(http, url, payload):
    async with http.post(f"{url}/v1/orders", data=payload) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "malformed request body"


async def test_an_oversized_body_gets_413(http, url):
    body = new_order(unique(), padding="x" * 100_000)
    async with http.post(f"{url}/v1/orders", json=body) as response:
        assert response.status == 413


@pytest.mark.parametrize("timeout", ["soon", "-1", "99999999"])
async def test_a_bad_timeout_gets_400(http, url, timeout):
    async with http.get(f"{url}/v1/orders/{unique()}", params={"timeout": timeout}) as response:
        assert response.status == 400
        assert "timeout" in (await response.json())["error"]


@pytest.mark.parametrize("path", ["/v1/orders/{}", "/v1/orders/{}/validated"])
async def test_a_malformed_id_in_the_path_gets_400(http, url, path):
    async with http.get(url + path.format("x" * 80)) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "malformed order id"


async def test_health_reports_ready_with_the_assignment_and_the_schema_registry(
    http, url, orders_app
):
    async with http.get(f"{url}/health") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ready"
    for partition in range(4):
        assert f"{orders_app.topic('orders')}[{partition}]" in body["assignment"]
    subjects = sum(1 for topic in topics.ALL if topic.value_type is not None)
    assert body["schemaRegistry"] == {"url": orders_app.registry_url,
                                      "subjectsRegistered": subjects}
