"""The rules of the three validators and the aggregator, with the reference's cases."""

import pytest

from agents.fraud import assess_fraud, count_order
from agents.inventory import apply_product_event, check_stock
from agents.order_details import check_order_details
from agents.validations import conclude, with_result
from app.deadlines import due_entries
from app.partitioning import partition_of
from models.records import (
    TIMEOUT, CheckType, Order, OrderEvent, OrderState, OrderValidation, StockEvent,
    ValidationResult,
)
from models.state import OrderRecord

PASS, FAIL, ERROR = ValidationResult.PASS, ValidationResult.FAIL, ValidationResult.ERROR
DETAILS, FRAUD, INVENTORY = (
    CheckType.ORDER_DETAILS_CHECK, CheckType.FRAUD_CHECK, CheckType.INVENTORY_CHECK,
)
HOUR_MS = 3600 * 1000


def order(order_id="o1", customer_id=1, product="JUMPERS", quantity=1, price=10.0,
          state=OrderState.CREATED) -> Order:
    return Order(id=order_id, customer_id=customer_id, state=state,
                 product=product, quantity=quantity, price=price)


def event(order: Order, offset: int, partition: int = 0) -> OrderEvent:
    """`order` as read from `orders` at `partition`, `offset`."""
    return OrderEvent(partition=partition, offset=offset, order=order)


# Order details -------------------------------------------------------------------------------

def test_a_well_formed_order_passes_the_details_check():
    assert check_order_details(order()) == PASS


@pytest.mark.parametrize(
    "changes", [{"quantity": 0}, {"price": 0.0}, {"price": -5.0}, {"product": ""},
                {"customer_id": 0}],
)
def test_details_fail_on_quantity_price_product_or_customer(changes):
    assert check_order_details(order(**changes)) == FAIL


# Fraud ---------------------------------------------------------------------------------------

def run_fraud(amounts, *, start_ms=0, step_ms=1000, limit=2000, gap_ms=HOUR_MS):
    session, results = None, []
    for n, amount in enumerate(amounts):
        session, result = assess_fraud(
            session, round(amount * 100), start_ms + n * step_ms,
            limit_cents=limit * 100, gap_ms=gap_ms,
        )
        results.append(result)
    return session, results


@pytest.mark.parametrize(
    "amounts, expected",
    [
        ([15, 90], [PASS, PASS]),                      # customer 0
        ([75, 150, 3900], [PASS, PASS, FAIL]),          # customer 1
        ([1000, 2000, 5], [PASS, FAIL, FAIL]),          # customer 2: a failed session stays failed
    ],
)
def test_fraud_matches_the_reference_cases(amounts, expected):
    assert run_fraud(amounts)[1] == expected


def test_fraud_fails_when_session_total_reaches_limit_exactly():
    assert run_fraud([1999.99])[1] == [PASS]
    assert run_fraud([1999.99, 0.01])[1] == [PASS, FAIL]


def test_money_is_counted_in_cents_without_float_drift():
    assert order(quantity=3, price=0.1).amount_cents == 30
    assert order(quantity=7, price=285.71).amount_cents == 199997


def test_a_new_session_starts_after_an_hour_of_inactivity():
    assert run_fraud([1500, 1500], step_ms=HOUR_MS + 1)[1] == [PASS, PASS]
    assert run_fraud([1500, 1500], step_ms=HOUR_MS)[1] == [PASS, FAIL]


def test_an_order_late_in_event_time_counts_in_the_current_session():
    session, _ = run_fraud([1500], start_ms=5 * HOUR_MS)
    later, result = assess_fraud(session, 60000, 0, limit_cents=200000, gap_ms=HOUR_MS)
    assert (later.total_cents, later.last_event_ms, result) == (210000, 5 * HOUR_MS, FAIL)


def test_a_redelivered_order_is_not_counted_again_in_its_session():
    limits = {"limit_cents": 200000, "gap_ms": HOUR_MS}
    session, result = count_order(None, event(order(price=1500.0), offset=7), **limits)
    assert (session.total_cents, result) == (150000, PASS)
    # The same `orders` event again, or an earlier one of its partition: counted already.
    assert count_order(session, event(order(price=1500.0), offset=7), **limits) is None
    assert count_order(session, event(order("o0", price=1.0), offset=3), **limits) is None
    # Events of other partitions have marks of their own.
    later, result = count_order(session, event(order("o2", price=600.0), 2, partition=1), **limits)
    assert (later.total_cents, result, later.applied_up_to) == (
        210000, FAIL, {"orders/0": 7, "orders/1": 2})


def test_a_new_session_keeps_the_counted_offsets():
    session, _ = count_order(None, event(order(price=1.0), offset=4),
                             limit_cents=200000, gap_ms=HOUR_MS)
    assert assess_fraud(session, 100, 2 * HOUR_MS, limit_cents=200000,
                        gap_ms=HOUR_MS)[0].applied_up_to == {"orders/0": 4}


# Inventory -----------------------------------------------------------------------------------

def stocked(units: int, offset: int = 0, product: str = "JUMPERS") -> StockEvent:
    """A stock level as read from `warehouse-inventory` partition 0 at `offset`."""
    return StockEvent(partition=0, offset=offset, product=product, stock=units)


def run_inventory(events, stock):
    """Apply a stock level of `stock`, then `events`, to one product's record; the record and
    each event's answer (None when the event was skipped as applied already, "-" when it asks
    no answer)."""
    reservations, _ = apply_product_event(None, stocked(stock))
    answers = []
    for each in events:
        applied = apply_product_event(reservations, each)
        if applied is None:
            answers.append(None)
        else:
            reservations, answer = applied
            answers.append(answer or "-")
    return reservations, answers

def test_inventory_matches_the_reference_case():
    underpants, answers = run_inventory([event(order("u1", product="UNDERPANTS", quantity=3), 0)], 75)
    assert (answers, underpants.reserved) == ([PASS], 3)
    jumpers, answers = run_inventory(
        [event(order("j1", quantity=1), 1), event(order("j2", quantity=1), 2)], 1)
    assert (answers, jumpers.reserved, jumpers.held) == ([PASS, FAIL], 1, {"j1": 1})


def test_a_product_without_stock_fails():
    assert check_stock(quantity=1, stock=0, reserved=0) == FAIL


def test_a_quantity_below_one_never_reserves():
    assert check_stock(quantity=0, stock=10, reserved=0) == FAIL
    reservations, answers = run_inventory([event(order(quantity=-5), 0)], 10)
    assert (answers, reservations.reserved) == ([FAIL], 0)


def test_a_failed_order_releases_what_it_held_and_a_validated_one_keeps_it():
    failed, validated = order("f", quantity=2), order("v", quantity=3)
    reservations, answers = run_inventory([
        event(failed, 0), event(validated, 1),
        event(failed.model_copy(update={"state": OrderState.FAILED}), 2),
        event(validated.model_copy(update={"state": OrderState.VALIDATED}), 3),
    ], 10)
    assert answers == [PASS, PASS, "-", "-"]
    assert (reservations.reserved, reservations.held) == (3, {})


def test_an_order_that_failed_its_check_releases_nothing():
    reservations, _ = run_inventory([
        event(order("big", quantity=50), 0),
        event(order("big", quantity=50, state=OrderState.FAILED), 1),
    ], 10)
    assert (reservations.reserved, reservations.held) == (0, {})


def test_a_redelivered_event_changes_nothing_however_far_it_got():
    created = event(order("r", quantity=2), 5)
    released = event(order("r", quantity=2, state=OrderState.FAILED), 6)
    # Redelivered before the record was written: applied as the first time.
    reservations, answers = run_inventory([created, created], 10)
    assert (answers, reservations.reserved) == ([PASS, None], 2)
    # Redelivered after the release was written: neither reserves nor releases again.
    reservations, answers = run_inventory([created, released, created, released], 10)
    assert (answers, reservations.reserved) == ([PASS, "-", None, None], 0)
    # Events of another `orders` partition have marks of their own.
    other = event(order("x", quantity=1), 0, partition=3)
    assert apply_product_event(reservations, other)[0].applied_up_to == {
        "warehouse-inventory/0": 0, "orders/0": 6, "orders/3": 0}


def test_stock_levels_and_orders_are_applied_in_the_order_they_come_and_once():
    reservations, answers = run_inventory([
        event(order("a", quantity=2), 0),  # stock 1: fails
        stocked(5, offset=1),
        event(order("b", quantity=2), 1),  # stock 5: passes
        stocked(1, offset=0),  # the first level again (a redelivery): skipped
        event(order("c", quantity=2), 2),
    ], 1)
    assert answers == [FAIL, "-", PASS, None, PASS]
    assert (reservations.stock, reservations.reserved) == (5, 4)


# Aggregator ----------------------------------------------------------------------------------

def progress_with(*results):
    progress = OrderRecord(order=order())
    for check, result in results:
        progress = with_result(
            progress, OrderValidation(order_id="o1", check_type=check, validation_result=result)
        )
    return progress


def test_three_passes_validate_the_order():
    outcome = conclude(progress_with((DETAILS, PASS), (FRAUD, PASS), (INVENTORY, PASS)))
    assert outcome.state == OrderState.VALIDATED
    assert outcome.failed_checks is None


def test_one_failure_fails_the_order_naming_the_check():
    outcome = conclude(progress_with((DETAILS, PASS), (FRAUD, FAIL), (INVENTORY, PASS)))
    assert (outcome.state, outcome.failed_checks) == (OrderState.FAILED, [FRAUD])


def test_a_failure_fails_the_order_at_once():
    outcome = conclude(progress_with((INVENTORY, ERROR)))
    assert (outcome.state, outcome.failed_checks) == (OrderState.FAILED, [INVENTORY])


def test_a_duplicated_pass_is_not_a_second_check():
    assert conclude(progress_with((DETAILS, PASS), (DETAILS, PASS), (FRAUD, PASS))) is None


def test_the_first_result_of_a_check_counts():
    progress = progress_with((DETAILS, PASS), (DETAILS, FAIL), (FRAUD, PASS), (INVENTORY, PASS))
    assert conclude(progress).state == OrderState.VALIDATED


def test_an_overdue_order_fails_with_timeout_naming_the_missing_checks():
    outcome = conclude(progress_with((DETAILS, PASS)), overdue=True)
    assert (outcome.state, outcome.reason) == (OrderState.FAILED, TIMEOUT)
    assert outcome.failed_checks == [INVENTORY, FRAUD]  # in CheckType order


def test_a_decided_order_is_never_decided_again():
    progress = progress_with((DETAILS, PASS), (FRAUD, PASS), (INVENTORY, PASS))
    decided = progress.model_copy(update={"outcome": conclude(progress)})
    assert conclude(decided, overdue=True) is None


def test_results_for_an_unknown_order_wait_for_it():
    progress = progress_with((DETAILS, FAIL)).model_copy(update={"order": None})
    assert conclude(progress, overdue=True) is None


def test_only_due_entries_of_owned_partitions_are_announced():
    ids = [f"t{n}" for n in range(40)]
    owned = {partition_of(ids[0], 4)}
    deadlines = [(order_id, 1_000 if n % 2 == 0 else 3_000) for n, order_id in enumerate(ids)]
    due = due_entries(deadlines, 2_000, owned=owned, partitions=4)
    assert due == {
        i: 1_000 for n, i in enumerate(ids) if n % 2 == 0 and partition_of(i, 4) in owned
    }
    assert due  # the case is not empty
