"""The agent shell (`app.framework.streams.consumes`): what cannot be decoded or processed goes to the
topic's dead letters, once, with its source in headers, and the agent goes on."""

import json

from agents import order_details
from agents.fraud import check_fraud
from agents.order_details import check_details
from app import metrics
from app.main import app
from models.records import Order, OrderEvent, OrderState
from tests.agents.conftest import batch, framed

ORDERS = "orders"
ORDERS_DEAD_LETTERS = "orders-dead-letters"


def order(order_id: str) -> Order:
    return Order(id=order_id, customer_id=1, state=OrderState.CREATED, product="SOCKS",
                 quantity=1, price=2.0)


async def test_a_record_that_fails_processing_is_a_dead_letter_and_the_agent_goes_on(
    sent, monkeypatch
):
    real_check = order_details.check_order_details

    def check(checked: Order):
        if checked.id == "boom":
            raise RuntimeError("the rule broke")
        return real_check(checked)

    monkeypatch.setattr(order_details, "check_order_details", check)
    before = metrics.sample("dead_letters_total", topic=ORDERS)
    async with check_details.test_context() as agent:
        boom = await agent.put(key=b"boom", value=framed(order("boom")), partition=1)
        await agent.put(key=b"fine", value=framed(order("fine")), partition=1)

    [dead] = sent[ORDERS_DEAD_LETTERS].await_args_list
    assert (dead.kwargs["key"], dead.kwargs["value"]) == (b"boom", framed(order("boom")))
    assert dead.kwargs["headers"] == {
        "error": b"RuntimeError: the rule broke",
        "agent": b"agents.order_details.check_details",
        "source-topic": ORDERS.encode(),
        "source-partition": b"1",
        "source-offset": str(boom.message.offset).encode(),
    }
    assert [v["orderId"] for v in sent.items("order-validations")] == ["fine"]
    assert metrics.sample("dead_letters_total", topic=ORDERS) == before + 1


async def test_one_agent_reads_orders_and_dead_letters_an_undecodable_record_once(sent):
    readers = [agent for agent in app.agents.values() if ORDERS in agent.channel.topics]
    assert len(readers) == 1
    async with readers[0].test_context() as agent:
        await agent.put(key=b"x", value=framed(b"{not json"))
        await agent.put(key=b"y", value=order("y").to_bytes())  # plain JSON: not framed
    not_json, not_framed = sent[ORDERS_DEAD_LETTERS].await_args_list
    assert not_json.kwargs["value"] == framed(b"{not json")
    assert b"JSON" in not_json.kwargs["headers"]["error"]
    assert not_json.kwargs["headers"]["agent"] == b"read-orders"
    assert not_framed.kwargs["value"] == order("y").to_bytes()
    assert b"not in the Confluent wire format" in not_framed.kwargs["headers"]["error"]
    assert sent.items("order-validations") == []


async def test_a_bad_item_of_a_batch_is_dead_lettered_alone_and_the_rest_is_handled(sent):
    good = OrderEvent(partition=2, offset=40, order=order("good-item"))
    record = b"[" + json.dumps({"partition": 2, "offset": 41}).encode() + b"," + good.to_bytes() + b"]"
    async with check_fraud.test_context() as agent:
        await agent.put(key=None, value=framed(record), partition=0)
        await agent.put(key=None, value=framed(b"not a batch"), partition=0)
        await agent.put(key=None, value=batch(good.model_copy(update={"offset": 42})), partition=0)
    dead = sent["orders-by-customer-dead-letters"].await_args_list
    assert [json.loads(call.kwargs["value"]) for call in dead[:1]] == [{"partition": 2, "offset": 41}]
    assert b"order: Field required" in dead[0].kwargs["headers"]["error"]
    assert dead[1].kwargs["value"] == framed(b"not a batch")
    assert len(dead) == 2
    assert [v["orderId"] for v in sent.items("order-validations")] == ["good-item", "good-item"]
