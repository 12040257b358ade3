"""The order-burst query's agent: alerts on `order-bursts`, each order counted once."""

from datetime import datetime, timezone

from agents.bursts import watch_bursts
from app import metrics
from models.records import Order, OrderEvent, OrderState
from tables.bursts import order_bursts
from tests.agents.conftest import batch

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def created(offset: int, seconds: float, customer_id: int = 88) -> OrderEvent:
    order = Order(id=f"b{offset}", customer_id=customer_id, state=OrderState.CREATED,
                  product="SOCKS", quantity=1, price=2.5,
                  created_at=START.replace(second=int(seconds)))
    return OrderEvent(partition=3, offset=offset, order=order)


async def test_a_burst_is_alerted_once_per_order_over_the_line_and_a_redelivery_counts_nothing(sent):
    late_before = metrics.sample("order_burst_late_orders_total")
    async with watch_bursts.test_context() as agent:
        await agent.put(key=None, value=batch(created(1, 0), created(2, 5)))
        await agent.put(key=None, value=batch(created(3, 10)))
        await agent.put(key=None, value=batch(created(3, 10)))  # redelivered: skipped
        await agent.put(key=None, value=batch(created(4, 11), created(5, 12)))  # updates
        await agent.put(key=None, value=batch(created(6, 50)))  # the next window; closes the first
        await agent.put(key=None, value=batch(created(7, 20)))  # late
        await agent.put(key=None, value=batch(
            OrderEvent(partition=3, offset=8, order=created(8, 51).order.model_copy(
                update={"state": OrderState.VALIDATED}))))  # only CREATED counts
    first = {"customerId": 88, "windowStart": "2026-01-01T00:00:00Z",
             "windowEnd": "2026-01-01T00:00:30Z", "orders": 3, "total": 7.5}
    assert sent.records("order-bursts") == [("88", first)]  # at once
    # The updates wait for the commit, which sends the latest count only.
    assert sent.latest == {("order-bursts", ("88", START.timestamp() * 1000)): (
        "88", {**first, "orders": 5, "total": 12.5})}
    assert metrics.sample("order_burst_late_orders_total") == late_before + 1
    assert [window.orders for window in order_bursts["88"].windows.values()] == [1]
    assert [kept.orders for kept in order_bursts["88"].alerts] == [5]
