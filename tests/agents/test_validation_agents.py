import asyncio
import inspect
import uuid

from faust.types import TP

from agents import validations
from app import deadlines
from agents.fraud import check_fraud
from agents.inventory import forward_stock_levels, reserve_stock
from agents.validations import aggregate_validations, expire_orders, find_overdue_orders, now_ms, track_orders
from app.main import app, get_app, settings
from models.records import (
    CheckType, Order, OrderEvent, OrderState, OrderValidation, StockEvent, ValidationResult,
)
from tables.fraud import fraud_sessions
from tables.inventory import stock_reservations
from tables.orders import order_states
from app.framework.table import drop_pending, flush_tables
from tables.validations import open_orders
from tests.agents.conftest import batch, framed


def order(order_id: str, state=OrderState.CREATED, product="SOCKS", quantity=2, price=3.0,
          customer_id=1) -> Order:
    return Order(id=order_id, customer_id=customer_id, state=state, product=product,
                 quantity=quantity, price=price)


def unique_product() -> str:
    return f"P-{uuid.uuid4().hex[:8]}"


def answers(sent, check: CheckType) -> list[tuple[str, str]]:
    return [(v["orderId"], v["validationResult"]) for v in sent.items("order-validations")
            if v["checkType"] == check.value]


async def crash_before_the_flush(*tables) -> None:
    """What a crash leaves of writes not flushed yet: nothing (the store has the last flush)."""
    drop_pending(list(tables))


async def crash_after_the_flush(*tables) -> None:
    """What a crash leaves of writes flushed before it: all of them."""
    await flush(*tables)


async def flush(*tables) -> None:
    """The commit barrier's table part, against a broker that takes everything."""
    async def send(topic, *, key, value, partition):
        acked = asyncio.get_running_loop().create_future()
        acked.set_result(type("Metadata", (), {"offset": 0})())
        return acked

    await flush_tables(list(tables), send)


async def stock(product: str, units: int) -> None:
    """The stock level as `orders-by-product` brings it (before the orders of the test)."""
    async with reserve_stock.test_context() as agent:
        await agent.put(key=None, value=batch(
            StockEvent(partition=0, offset=0, product=product, stock=units)))
    await flush(stock_reservations)  # set long before the orders: committed


async def test_a_redelivered_order_reserves_once_whenever_the_crash_came(sent):
    product = unique_product()
    await stock(product, 5)
    created = OrderEvent(partition=1, offset=10, order=order("r1", product=product))
    async with reserve_stock.test_context() as agent:
        await agent.put(key=None, value=batch(created))
        await crash_before_the_flush(stock_reservations)
        await agent.put(key=None, value=batch(created))  # decided again, as the first time
        await crash_after_the_flush(stock_reservations)
        await agent.put(key=None, value=batch(created))  # found applied: skipped
    assert stock_reservations[product].reserved == 2
    assert answers(sent, CheckType.INVENTORY_CHECK) == [("r1", "PASS"), ("r1", "PASS")]
    assert sent.added["order-validations"][0][0] == 1  # in the order's partition


async def test_a_redelivered_order_is_counted_once_in_its_fraud_session(sent):
    first = OrderEvent(partition=0, offset=5, order=order("f1", quantity=1, price=1500.0, customer_id=77))
    second = OrderEvent(partition=0, offset=6, order=order("f2", quantity=1, price=400.0, customer_id=77))
    async with check_fraud.test_context() as agent:
        await agent.put(key=None, value=batch(first))
        await crash_before_the_flush(fraud_sessions)
        await agent.put(key=None, value=batch(first))
        await crash_after_the_flush(fraud_sessions)
        await agent.put(key=None, value=batch(first, second))
    assert answers(sent, CheckType.FRAUD_CHECK) == [("f1", "PASS"), ("f1", "PASS"), ("f2", "PASS")]
    assert fraud_sessions["77"].total_cents == 190000


async def test_a_failed_order_releases_its_reservation_once(sent):
    product = unique_product()
    await stock(product, 5)
    created = OrderEvent(partition=2, offset=1, order=order("r2", product=product))
    failed = OrderEvent(partition=2, offset=2, order=order("r2", OrderState.FAILED, product=product))
    async with reserve_stock.test_context() as agent:
        await agent.put(key=None, value=batch(created))
        await agent.put(key=None, value=batch(failed))
        await crash_after_the_flush(stock_reservations)
        await agent.put(key=None, value=batch(created, failed))
    assert (stock_reservations[product].reserved, stock_reservations[product].held) == (0, {})


async def test_a_stock_level_goes_on_in_order_with_the_orders_of_its_product(sent):
    async with forward_stock_levels.test_context() as levels:
        level = await levels.put(key=b"SOCKS", value=framed(b"7"), partition=3)
    assert sent.added["orders-by-product"] == [
        (3, {"partition": 3, "offset": level.message.offset, "product": "SOCKS", "stock": 7})]


async def test_a_negative_stock_level_is_a_dead_letter(sent):
    async with forward_stock_levels.test_context() as levels:
        await levels.put(key=b"SOCKS", value=framed(b"-3"))
        await levels.put(key=b"SOCKS", value=framed(b"lots"))
    errors = [c.kwargs["headers"]["error"] for c in sent["warehouse-inventory-dead-letters"].await_args_list]
    assert errors == [b"a stock level cannot be negative: -3",
                      b"invalid literal for int() with base 10: b'lots'"]


def validation(order_id: str, check: CheckType, result=ValidationResult.PASS) -> OrderValidation:
    return OrderValidation(order_id=order_id, check_type=check, validation_result=result)


async def test_an_order_is_decided_once_whatever_is_redelivered(sent):
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a1", value=framed(order("a1")))
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(*(validation("a1", check) for check in CheckType)))
        await agent.put(key=None, value=batch(
            validation("a1", CheckType.FRAUD_CHECK, ValidationResult.FAIL)))
    assert [v["state"] for v in sent.values("orders")] == ["VALIDATED"]


async def test_the_outcome_seen_on_orders_closes_the_order(sent):
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a2", value=framed(order("a2")))
        assert "a2" in open_orders
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(
            validation("a2", CheckType.INVENTORY_CHECK, ValidationResult.FAIL)))
    [outcome] = sent.values("orders")
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a2", value=framed(Order.model_validate(outcome)))
    assert "a2" not in open_orders


async def test_a_deadline_fails_an_incomplete_order_with_timeout_once(sent, monkeypatch):
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a3", value=framed(order("a3")))
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(validation("a3", CheckType.ORDER_DETAILS_CHECK)))
    async with expire_orders.test_context() as deadlines:
        await deadlines.put(key=b"a3", value=b"")  # not due yet: ignored
        later = now_ms() + settings.order_timeout_s * 1000
        monkeypatch.setattr(validations, "now_ms", lambda: later)
        await deadlines.put(key=b"a3", value=b"")
        await deadlines.put(key=b"a3", value=b"")  # a repeated notice: the deadline moved on
    outcomes = sent.values("orders")
    assert [(o["state"], o["reason"], o["failedChecks"]) for o in outcomes] == [
        ("FAILED", "TIMEOUT", ["INVENTORY_CHECK", "FRAUD_CHECK"])
    ]


async def test_a_deadline_lost_by_a_crash_in_the_middle_of_a_flush_comes_back_with_the_order(
    sent, monkeypatch
):
    # The order's record reached its changelog, its deadline did not.
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a7", value=framed(order("a7")))
        await crash_after_the_flush(order_states)
        await crash_before_the_flush(open_orders)
        assert "a7" not in open_orders
        await orders.put(key=b"a7", value=framed(order("a7")))  # redelivered
    later = now_ms() + settings.order_timeout_s * 1000
    monkeypatch.setattr(validations, "now_ms", lambda: later)
    async with expire_orders.test_context() as deadlines:
        await deadlines.put(key=b"a7", value=b"")
    assert [(o["state"], o["reason"]) for o in sent.values("orders")] == [("FAILED", "TIMEOUT")]


async def test_an_outcome_not_seen_on_orders_by_its_deadline_is_published_again(sent, monkeypatch):
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a4", value=framed(order("a4")))
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(
            validation("a4", CheckType.FRAUD_CHECK, ValidationResult.FAIL)))
    period = settings.order_timeout_s * 1000
    async with expire_orders.test_context() as deadlines:
        for periods in (1, 2):
            moment = now_ms() + periods * period + 1000
            monkeypatch.setattr(validations, "now_ms", lambda: moment)
            await deadlines.put(key=b"a4", value=b"")
    assert [o["state"] for o in sent.values("orders")] == ["FAILED"] * 3


async def test_the_timer_announces_each_overdue_deadline_of_its_partitions_once(sent, monkeypatch):
    changelog = open_orders.changelog_topic.get_topic_name()
    owned = {TP(changelog, partition) for partition in range(settings.topic_partitions)}
    monkeypatch.setattr(app.assignor, "assigned_actives", lambda: owned)
    open_orders.data["t1"], open_orders.data["t2"] = 0, now_ms() + 60_000  # no stream to write from
    for _ in range(2):
        await inspect.unwrap(find_overdue_orders)()  # the timer's body, without its loop
    announced = [call.kwargs["key"] for call in sent["order-deadlines"].await_args_list]
    assert announced.count(b"t1") == 1 and b"t2" not in announced

    # Still due long after (its notice lost): announced again.
    later = now_ms() + deadlines.REANNOUNCE_MS
    monkeypatch.setattr(validations, "now_ms", lambda: later)
    await inspect.unwrap(find_overdue_orders)()
    announced = [call.kwargs["key"] for call in sent["order-deadlines"].await_args_list]
    assert announced.count(b"t1") == 2


async def test_an_outcome_on_orders_that_the_table_lost_is_not_published_again(sent):
    # A crash after the VALIDATED event reached `orders` and before the table recorded it: the
    # last validation comes again, but the event read back from `orders` is the outcome.
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a5", value=framed(order("a5")))
    checks = list(CheckType)
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(*(validation("a5", check) for check in checks[:2])))
    published_before_the_crash = framed(order("a5", state=OrderState.VALIDATED))
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a5", value=published_before_the_crash)
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(validation("a5", checks[2])))  # redelivered
    assert sent.values("orders") == []
    assert "a5" not in open_orders


async def test_outcomes_are_held_back_until_the_assigned_partition_has_caught_up(sent, monkeypatch):
    partition = 2
    monkeypatch.setitem(validations.catching_up, partition, 10)  # `orders` ended at 10 when assigned
    committed = {partition: 4}
    monkeypatch.setattr(validations, "committed_offset", lambda p: committed[p])
    async with track_orders.test_context() as orders:
        await orders.put(key=b"a6", value=framed(order("a6")), partition=partition)
    async with aggregate_validations.test_context() as agent:
        await agent.put(key=None, value=batch(
            validation("a6", CheckType.FRAUD_CHECK, ValidationResult.FAIL)), partition=partition)
    assert sent.values("orders") == []  # decided, but not published yet
    assert open_orders["a6"] <= now_ms() + validations.HOLD_RETRY_MS  # the timer will try again
    assert validations.held_partitions() == [partition]

    committed[partition] = 10  # caught up
    assert validations.held_partitions() == []
    async with expire_orders.test_context() as deadlines:
        soon = now_ms() + validations.HOLD_RETRY_MS
        monkeypatch.setattr(validations, "now_ms", lambda: soon)
        await deadlines.put(key=b"a6", value=b"", partition=partition)
    assert [o["state"] for o in sent.values("orders")] == ["FAILED"]
    assert partition not in validations.catching_up


def test_a_partition_has_caught_up_once_its_end_at_assignment_is_committed():
    assert validations.caught_up(0, None)  # empty when assigned
    assert not validations.caught_up(None, 50)  # end not known yet
    assert not validations.caught_up(10, 9)
    assert validations.caught_up(10, 10)


async def test_an_assignment_holds_its_orders_partitions_until_their_ends_are_known(monkeypatch):
    orders_topic = validations.topics.orders.get_topic_name()
    looked_up = asyncio.Event()

    class Consumer:
        async def highwaters(self, *partitions):
            await looked_up.wait()
            return {tp: 7 for tp in partitions}

    monkeypatch.setattr(get_app(), "_consumer", Consumer())
    monkeypatch.setattr(validations, "catching_up", {0: 3})  # from an earlier assignment
    await validations.hold_outcomes_until_caught_up(app, {TP(orders_topic, 1), TP("other", 0)})
    assert validations.catching_up == {1: None}  # held at once; partition 0 is gone
    assert not validations.may_publish_now(1)
    looked_up.set()
    await asyncio.gather(*validations._look_ups)
    assert validations.catching_up == {1: 7}

