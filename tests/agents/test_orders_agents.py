import asyncio

import pytest

from agents.orders import place_orders, record_order_events
from models.records import Order, OrderState, PlaceOrder
from tables.orders import order_states
from tests.agents.conftest import framed


def order(order_id: str, state: OrderState = OrderState.CREATED, product: str = "JUMPERS") -> Order:
    return Order(id=order_id, customer_id=1, state=state, product=product, quantity=1, price=5.0)


def place(order_id: str, request_id: str, product: str = "JUMPERS") -> bytes:
    return framed(PlaceOrder(request_id=request_id, order=order(order_id, product=product)))


async def test_the_first_request_for_an_id_is_published_once(sent):
    async with place_orders.test_context() as agent:
        await agent.put(key=b"p1", value=place("p1", "request-a"), partition=2)
        await agent.put(key=b"p1", value=place("p1", "request-b", product="SOCKS"), partition=2)
    assert [(key, body["product"]) for key, body in sent.records("orders")] == [("p1", "JUMPERS")]
    assert sent.published["orders"][0][2] == 2  # co-partitioned: the request's partition
    assert order_states["p1"].placed_by == "request-a"


async def test_the_winning_request_redelivered_is_published_again(sent):
    async with place_orders.test_context() as agent:
        await agent.put(key=b"p2", value=place("p2", "request-a"))
        await agent.put(key=b"p2", value=place("p2", "request-a"))
    assert len(sent.records("orders")) == 2
    assert order_states["p2"].placed_by == "request-a"


async def test_an_undecodable_request_goes_to_dead_letters_and_the_agent_goes_on(sent):
    async with place_orders.test_context() as agent:
        await agent.put(key=b"p3", value=framed(b'{"requestId": "r", "order": {"id": "p3"}}'))
        await agent.put(key=b"p4", value=place("p4", "request-a"))
    [dead] = sent["order-requests-dead-letters"].await_args_list
    assert dead.kwargs["key"] == b"p3"
    assert dead.kwargs["value"] == framed(b'{"requestId": "r", "order": {"id": "p3"}}')
    assert b"order.customerId: Field required" in dead.kwargs["headers"]["error"]
    assert [key for key, _ in sent.records("orders")] == ["p4"]


async def test_the_query_side_keeps_the_latest_state(sent):
    async with record_order_events.test_context() as agent:
        await agent.put(key=b"v1", value=framed(order("v1")))
        assert order_states["v1"].latest.state == OrderState.CREATED
        await agent.put(key=b"v1", value=framed(order("v1", OrderState.VALIDATED)))
        await agent.put(key=b"v1", value=framed(order("v1")))  # redelivered CREATED
    assert order_states["v1"].latest.state == OrderState.VALIDATED


async def test_only_news_is_forwarded_by_customer_and_product_stamped_with_its_offset(sent):
    async with record_order_events.test_context() as agent:
        created = await agent.put(key=b"n1", value=framed(order("n1")), partition=3)
        await agent.put(key=b"n1", value=framed(order("n1")), partition=3)  # a repeat
        validated = await agent.put(
            key=b"n1", value=framed(order("n1", OrderState.VALIDATED)), partition=3)
        await agent.put(key=b"n1", value=framed(order("n1", OrderState.FAILED)), partition=3)
    expected = [(3, created.message.offset, "CREATED"), (3, validated.message.offset, "VALIDATED")]
    for topic in ("orders-by-customer", "orders-by-product"):
        forwarded = [(item["partition"], item["offset"], item["order"]["state"])
                     for item in sent.items(topic)]
        assert forwarded == expected


@pytest.mark.parametrize("waiters", [1, 25])
async def test_every_waiter_on_an_order_wakes_when_it_lands(sent, waiters):
    order_id = f"w{waiters}"
    async with record_order_events.test_context() as agent:
        waiting = [
            asyncio.ensure_future(order_states.wait_for(
                order_id, lambda record: record is not None and record.latest, timeout=5))
            for _ in range(waiters)
        ]
        await asyncio.sleep(0)
        assert order_states.waiting(order_id) == waiters
        await agent.put(key=order_id.encode(), value=framed(order(order_id)))
        answers = await asyncio.gather(*waiting)
    assert {answer.latest.id for answer in answers} == {order_id}
    assert order_states.waiting(order_id) == 0


async def test_a_waiter_times_out_and_leaves_no_trace(sent):
    with pytest.raises(TimeoutError):
        await order_states.wait_for("never", bool, timeout=0.05)
    assert order_states.waiting("never") == 0
