"""Validations aggregator: three distinct PASSes make an order VALIDATED; any FAIL or ERROR makes
it FAILED at once; an order not complete by its deadline ends FAILED with reason TIMEOUT.

Each order gets one outcome, kept in a plain table, so redelivered orders, validations and
deadlines change nothing. The deadline is ORDER_TIMEOUT_S after the later of the order's event time
and the moment the aggregator first saw it, so a back-dated order is not failed on arrival. Faust's
timers cannot write tables, so a timer only publishes overdue order ids to `order-deadlines`, and
the agents decide. An outcome not seen back on `orders` by its deadline (lost in a crash between
storing and publishing it) is published again, and its deadline moves one period on.

Consumes: orders (CREATED opens an order; its outcome coming back confirms it),
          order-validations, order-deadlines.
Produces: orders (VALIDATED or FAILED), order-deadlines (the timer).
Keeps: validation_progress (order id -> ValidationProgress), open_orders (order id -> deadline).
"""

from __future__ import annotations

import time

from app import metrics, topics
from app.main import app, settings
from app.deadlines import DeadlineAnnouncer
from app.streams import consumes
from models.records import TIMEOUT, CheckType, Order, OrderState, OrderValidation, ValidationResult
from models.state import ValidationProgress
from tables.validations import open_orders, validation_progress

REQUIRED_CHECKS = frozenset(CheckType)


def conclude(progress: ValidationProgress, *, overdue: bool = False) -> Order | None:
    """The terminal order `progress` has reached, or None while it is still open."""
    if progress.outcome is not None or progress.order is None:
        return None
    results = progress.results
    failed = [c for c in CheckType if c in results and results[c] != ValidationResult.PASS]
    if failed:
        return _terminal(progress.order, OrderState.FAILED, failed_checks=failed)
    if REQUIRED_CHECKS <= results.keys():
        return _terminal(progress.order, OrderState.VALIDATED)
    if overdue:
        missing = [c for c in CheckType if c not in results]
        return _terminal(progress.order, OrderState.FAILED, failed_checks=missing, reason=TIMEOUT)
    return None


def with_result(progress: ValidationProgress, validation: OrderValidation) -> ValidationProgress:
    """The first result of each check counts; a repeated one changes nothing."""
    if validation.check_type in progress.results:
        return progress
    results = {**progress.results, validation.check_type: validation.validation_result}
    return progress.model_copy(update={"results": results})


def _terminal(order: Order, state: OrderState, **fields) -> Order:
    return order.model_copy(update={"state": state, **fields})


def now_ms() -> int:
    return int(time.time() * 1000)


def _load(order_id: str) -> ValidationProgress:
    stored = validation_progress.get(order_id)
    return ValidationProgress.from_bytes(stored) if stored else ValidationProgress()


async def _settle(order_id: str, progress: ValidationProgress, *, overdue: bool = False) -> None:
    """Store `progress` with its outcome, if it now has one, then publish that outcome.

    Tables are written before the first `await`: the three agents share these tables and run
    in turns, so nothing can change them between this read and write.
    """
    outcome = conclude(progress, overdue=overdue)
    if outcome is not None:
        progress = progress.model_copy(update={"outcome": outcome})
    validation_progress[order_id] = progress.to_bytes()
    if outcome is not None:
        await _publish(outcome)


async def _publish(outcome: Order) -> None:
    await topics.orders.send(
        key=outcome.id.encode(), value=outcome.to_bytes(), timestamp=outcome.timestamp
    )


def _close(order_id: str) -> None:
    if order_id in open_orders:
        del open_orders[order_id]


@consumes(topics.orders, Order.from_bytes)
async def track_orders(order: Order) -> None:
    progress = _load(order.id)
    if order.state == OrderState.CREATED and progress.order is None:
        deadline = max(order.event_time_ms, now_ms()) + settings.order_timeout_s * 1000
        open_orders[order.id] = deadline
        opened = progress.model_copy(update={"order": order})
        await _settle(order.id, opened)
    elif progress.decided == order.state and not progress.confirmed:
        _close(order.id)
        validation_progress[order.id] = progress.model_copy(update={"confirmed": True}).to_bytes()


@consumes(topics.order_validations, OrderValidation.from_bytes)
async def aggregate_validations(validation: OrderValidation) -> None:
    progress = _load(validation.order_id)
    updated = with_result(progress, validation)
    if progress.outcome is None and updated is not progress:
        metrics.validations.labels(
            validation.check_type.value, validation.validation_result.value
        ).inc()
        await _settle(validation.order_id, updated)


@consumes(topics.order_deadlines, bytes, keyed=True)
async def expire_orders(order_id: str, _: bytes) -> None:
    deadline = open_orders.get(order_id)
    if deadline is None or deadline > now_ms():
        return  # closed meanwhile, or a repeated notice of a deadline that moved on
    progress = _load(order_id)
    open_orders[order_id] = now_ms() + settings.order_timeout_s * 1000
    if progress.outcome is not None:
        await _publish(progress.outcome)
    else:
        await _settle(order_id, progress, overdue=True)


overdue_orders = DeadlineAnnouncer(open_orders, topics.order_deadlines)


@app.timer(interval=1.0)
async def find_overdue_orders() -> None:
    await overdue_orders.announce(lambda partition: now_ms())
