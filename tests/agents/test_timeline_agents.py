"""The timeline index's wiring: each order-keyed topic's records land in their order's timeline,
with where they were read, and nothing of other orders."""

from agents.timeline import index_deadlines, index_order_events, index_payments, index_requests, index_validations
from models.records import (
    CheckType, Order, OrderState, OrderValidation, Payment, PlaceOrder, ValidationResult,
)
from tables.orders import order_states
from tests.agents.conftest import batch, framed

STAMP = 1_780_000_000.0  # epoch seconds


def order(order_id: str, state: OrderState = OrderState.CREATED) -> Order:
    return Order(id=order_id, customer_id=4, state=state, product="SOCKS", quantity=2, price=3.0)


def validation(order_id: str, check: CheckType) -> OrderValidation:
    return OrderValidation(order_id=order_id, check_type=check,
                           validation_result=ValidationResult.PASS)


async def test_an_orders_events_are_indexed_with_their_topic_partition_offset_and_time(sent):
    async with index_requests.test_context() as agent:
        await agent.put(key=b"t1", value=framed(PlaceOrder(request_id="r1", order=order("t1"))),
                        partition=2, timestamp=STAMP)
    async with index_order_events.test_context() as agent:
        agent.sent_offset = 40
        await agent.put(key=b"t1", value=framed(order("t1")), partition=2, timestamp=STAMP + 1)
    async with index_validations.test_context() as agent:
        agent.sent_offset = 9
        await agent.put(key=None, partition=2, timestamp=STAMP + 2, value=batch(
            validation("t1", CheckType.FRAUD_CHECK), validation("t2", CheckType.FRAUD_CHECK),
            validation("t1", CheckType.INVENTORY_CHECK)))
    async with index_deadlines.test_context() as agent:
        await agent.put(key=b"t1", value=b"", partition=2, timestamp=STAMP + 3)
    async with index_payments.test_context() as agent:
        await agent.put(key=None, partition=2, timestamp=STAMP + 4, value=batch(
            Payment(id="pay-1", order_id="t1", ccy="EUR", amount=6.0)))
    events = [(entry.topic, entry.partition, entry.offset, entry.timestamp, entry.summary)
              for entry in order_states["t1"].timeline.entries]
    assert events == [
        ("order-requests", 2, 0, 1_780_000_000_000, "place 2 x SOCKS (request r1)"),
        ("orders", 2, 40, 1_780_000_001_000, "CREATED"),
        ("order-validations", 2, 9, 1_780_000_002_000, "FRAUD_CHECK PASS"),
        ("order-validations", 2, 9, 1_780_000_002_000, "INVENTORY_CHECK PASS"),
        ("order-deadlines", 2, 0, 1_780_000_003_000, "deadline passed"),
        ("payments-by-order", 2, 0, 1_780_000_004_000, "payment pay-1: 6.0 EUR"),
    ]
    assert [entry.summary for entry in order_states["t2"].timeline.entries] == ["FRAUD_CHECK PASS"]


async def test_a_redelivered_record_is_indexed_once(sent):
    async with index_order_events.test_context() as agent:
        await agent.put(key=b"t3", value=framed(order("t3")), partition=1, timestamp=STAMP)
        agent.sent_offset = 0  # the same record again, as after a crash
        await agent.put(key=b"t3", value=framed(order("t3")), partition=1, timestamp=STAMP)
        await agent.put(key=b"t3", value=framed(order("t3", OrderState.VALIDATED)), partition=1,
                        timestamp=STAMP)
    assert [(entry.offset, entry.summary) for entry in order_states["t3"].timeline.entries] == [
        (0, "CREATED"), (1, "VALIDATED")]
