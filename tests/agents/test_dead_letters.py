"""The agent shell (`app.streams.consumes`): what cannot be decoded or processed goes to the
topic's dead letters, once, with its source in headers, and the agent goes on."""

import importlib
import json
import pkgutil

import agents
from agents import order_details
from agents.order_details import check_details
from app import metrics
from app.main import app
from models.records import Order, OrderState

ORDERS = "orders"
ORDERS_DEAD_LETTERS = "orders-dead-letters"


def order(order_id: str) -> bytes:
    return Order(id=order_id, customer_id=1, state=OrderState.CREATED, product="SOCKS",
                 quantity=1, price=2.0).to_bytes()


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
        boom = await agent.put(key=b"boom", value=order("boom"), partition=1)
        await agent.put(key=b"fine", value=order("fine"), partition=1)

    [dead] = sent[ORDERS_DEAD_LETTERS].await_args_list
    assert (dead.kwargs["key"], dead.kwargs["value"]) == (b"boom", order("boom"))
    assert dead.kwargs["headers"] == {
        "error": b"RuntimeError: the rule broke",
        "agent": b"agents.order_details.check_details",
        "source-topic": ORDERS.encode(),
        "source-partition": b"1",
        "source-offset": str(boom.message.offset).encode(),
    }
    [validation] = [json.loads(c.kwargs["value"]) for c in sent["order-validations"].await_args_list]
    assert validation["orderId"] == "fine"
    assert metrics.sample("dead_letters_total", topic=ORDERS) == before + 1


async def test_an_undecodable_order_is_dead_lettered_by_one_of_the_agents_reading_orders(sent):
    for module in pkgutil.iter_modules(agents.__path__):
        importlib.import_module(f"agents.{module.name}")
    readers = [agent for agent in app.agents.values()
               if ORDERS in agent.channel.topics]
    assert len(readers) >= 4
    for reader in readers:
        async with reader.test_context() as agent:
            await agent.put(key=b"x", value=b"{not json")
    [dead] = sent[ORDERS_DEAD_LETTERS].await_args_list
    assert dead.kwargs["value"] == b"{not json"
    assert b"JSON" in dead.kwargs["headers"]["error"]
