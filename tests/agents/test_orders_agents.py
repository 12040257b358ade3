import asyncio
import json

import pytest

from agents.orders import place_orders, update_latest_orders
from models.records import Order, OrderState, PlaceOrder
from tables.orders import latest_orders, order_placements


def order(order_id: str, state: OrderState = OrderState.CREATED, product: str = "JUMPERS") -> Order:
    return Order(id=order_id, customer_id=1, state=state, product=product, quantity=1, price=5.0)


def place(order_id: str, request_id: str, product: str = "JUMPERS") -> bytes:
    return PlaceOrder(request_id=request_id, order=order(order_id, product=product)).to_bytes()


def published(mock) -> list[tuple[bytes, dict]]:
    return [(call.kwargs["key"], json.loads(call.kwargs["value"])) for call in mock.await_args_list]


async def test_the_first_request_for_an_id_is_published_once(sent):
    async with place_orders.test_context() as agent:
        await agent.put(key=b"p1", value=place("p1", "request-a"))
        await agent.put(key=b"p1", value=place("p1", "request-b", product="SOCKS"))
    assert [(key, body["product"]) for key, body in published(sent["orders"])] == [
        (b"p1", "JUMPERS")
    ]
    assert order_placements["p1"] == "request-a"


async def test_the_winning_request_redelivered_is_published_again(sent):
    async with place_orders.test_context() as agent:
        await agent.put(key=b"p2", value=place("p2", "request-a"))
        await agent.put(key=b"p2", value=place("p2", "request-a"))
    assert len(sent["orders"].await_args_list) == 2
    assert order_placements["p2"] == "request-a"


async def test_an_undecodable_request_goes_to_dead_letters_and_the_agent_goes_on(sent):
    async with place_orders.test_context() as agent:
        await agent.put(key=b"p3", value=b'{"requestId": "r", "order": {"id": "p3"}}')
        await agent.put(key=b"p4", value=place("p4", "request-a"))
    [dead] = sent["order-requests-dead-letters"].await_args_list
    assert dead.kwargs["key"] == b"p3"
    assert dead.kwargs["value"] == b'{"requestId": "r", "order": {"id": "p3"}}'
    assert b"order.customerId: Field required" in dead.kwargs["headers"]["error"]
    assert [key for key, _ in published(sent["orders"])] == [b"p4"]


async def test_the_query_side_keeps_the_latest_state(sent):
    async with update_latest_orders.test_context() as agent:
        await agent.put(key=b"v1", value=order("v1").to_bytes())
        assert Order.from_bytes(latest_orders["v1"]).state == OrderState.CREATED
        await agent.put(key=b"v1", value=order("v1", OrderState.VALIDATED).to_bytes())
        await agent.put(key=b"v1", value=order("v1").to_bytes())  # redelivered CREATED
    assert Order.from_bytes(latest_orders["v1"]).state == OrderState.VALIDATED


@pytest.mark.parametrize("waiters", [1, 25])
async def test_every_waiter_on_an_order_wakes_when_it_lands(sent, waiters):
    async with update_latest_orders.test_context() as agent:
        waiting = [
            asyncio.ensure_future(latest_orders.wait_for(f"w{waiters}", bool, timeout=5))
            for _ in range(waiters)
        ]
        await asyncio.sleep(0)
        assert latest_orders.waiting(f"w{waiters}") == waiters
        await agent.put(key=b"w", value=order(f"w{waiters}").to_bytes())
        answers = await asyncio.gather(*waiting)
    assert {Order.from_bytes(answer).id for answer in answers} == {f"w{waiters}"}
    assert latest_orders.waiting(f"w{waiters}") == 0


async def test_a_waiter_times_out_and_leaves_no_trace(sent):
    with pytest.raises(TimeoutError):
        await latest_orders.wait_for("never", bool, timeout=0.05)
    assert latest_orders.waiting("never") == 0
