"""The rules of the rebuild: each view's fold gives what its service keeps, differences are found
by key, and a repair is written only over the value the rebuild read."""

from functools import reduce

from agents.repairs import CHANGED, repaired
from app.rebuild import VIEWS, canonical, differences, fold_customer, fold_order
from models.records import Customer, Order, OrderEvent, OrderState, StockEvent, ViewRepair
from models.state import OrderRecord, StockReservations


def order(state: OrderState, order_id: str = "o1", quantity: int = 1) -> Order:
    return Order(id=order_id, customer_id=7, state=state, product="JUMPERS", quantity=quantity,
                 price=10.0)


def fold(view: str, key: str, items: list):
    return reduce(lambda state, item: VIEWS[view].fold(state, key, item), items, None)


def test_the_query_side_keeps_the_furthest_state_whatever_order_events_come_in():
    created, validated = order(OrderState.CREATED), order(OrderState.VALIDATED)

    assert fold_order(None, "o1", created) == created
    assert fold_order(created, "o1", validated) == validated
    assert fold_order(validated, "o1", created) == validated  # a redelivered CREATED


def test_customers_follow_the_latest_record_and_tombstones_and_refuse_a_foreign_key():
    ann = Customer(id=1, first_name="Ann", last_name="Lee", email="ann@example.com",
                   address="1 Road", level="gold")
    moved = ann.model_copy(update={"address": "2 Road"})

    assert fold_customer(ann, "1", moved) == moved
    assert fold_customer(moved, "1", None) is None
    assert fold_customer(ann, "2", moved) == ann  # stored under another id: refused


def test_stock_is_the_inventory_checks_record_after_the_same_events_redelivered_or_not():
    created = OrderEvent(partition=0, offset=10, order=order(OrderState.CREATED, quantity=2))
    failed = OrderEvent(partition=0, offset=11, order=order(OrderState.FAILED, quantity=2))
    level = StockEvent(partition=1, offset=3, product="JUMPERS", stock=5)

    after_created = fold("stock", "JUMPERS", [level, created, created])
    assert (after_created.stock, after_created.reserved, after_created.held) == (5, 2, {"o1": 2})
    after_failed = fold("stock", "JUMPERS", [level, created, failed, created])
    assert (after_failed.reserved, after_failed.held) == (0, {})


def test_fraud_sessions_count_created_orders_once(built_app):
    created = OrderEvent(partition=0, offset=4, order=order(OrderState.CREATED, quantity=3))
    validated = OrderEvent(partition=0, offset=5, order=order(OrderState.VALIDATED, quantity=3))

    session = fold("fraud", "7", [created, created, validated])

    assert session.total_cents == 3000
    assert session.applied_up_to == {"orders/0": 4}


def test_differences_are_the_keys_whose_values_differ_or_exist_on_one_side_only():
    rebuilt = {"a": b"1", "b": b"2", "c": b"3"}
    live = {"a": b"1", "b": b"9", "d": b"4"}

    assert differences(rebuilt, live) == {"b": (b"9", b"2"), "c": (None, b"3"), "d": (b"4", None)}
    assert differences(rebuilt, live, keys=["a", "b"]) == {"b": (b"9", b"2")}


def test_a_repair_is_written_only_over_the_value_the_rebuild_read():
    view = VIEWS["stock"]
    wrong = StockReservations(stock=5, reserved=9)
    right = StockReservations(stock=5, reserved=2)
    repair = ViewRepair(view="stock", expected=wrong.to_json(), value=right.to_json())

    assert repaired(view, wrong, repair) == right
    assert repaired(view, wrong.model_copy(update={"reserved": 10}), repair) is CHANGED
    assert repaired(view, None, repair) is CHANGED
    deletion = ViewRepair(view="stock", expected=wrong.to_json(), value=None)
    assert repaired(view, wrong, deletion) is None


def test_a_repair_of_the_query_side_replaces_only_the_latest_event():
    view = VIEWS["orders"]
    created, validated = order(OrderState.CREATED), order(OrderState.VALIDATED)
    record = OrderRecord(placed_by="r1", order=created, latest=created, outcome=validated,
                         confirmed=True)
    repair = ViewRepair(view="orders", expected=created.to_json(), value=validated.to_json())

    fixed = repaired(view, record, repair)

    assert fixed == record.model_copy(update={"latest": validated})
    assert canonical(view.part(fixed)) == validated.to_bytes()
