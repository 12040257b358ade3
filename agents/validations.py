"""Validations aggregator: three distinct PASSes make an order VALIDATED; any FAIL or ERROR makes
it FAILED at once; an order not complete by its deadline ends FAILED with reason TIMEOUT.

Each order gets one outcome, kept in a plain table, so redelivered orders, validations and
deadlines change nothing. The deadline is ORDER_TIMEOUT_S after the later of the order's event time
and the moment the aggregator first saw it, so a back-dated order is not failed on arrival. Faust's
timers cannot write tables, so a timer only publishes overdue order ids to `order-deadlines`, and
the agents decide. An outcome not seen back on `orders` by its deadline (lost in a crash between
storing and publishing it) is published again, and its deadline moves one period on.

The opposite crash, an outcome on `orders` whose table write was lost, must not let the redelivered
validation publish a second one. So every terminal event read from `orders` becomes its order's
outcome, and after a partition is assigned its outcomes are held back until `orders` has been
processed and committed up to the end it had then: by that time every outcome published before
the crash has been read back. A held-back outcome is published by the deadline timer as soon as
the partition has caught up (it is retried every HOLD_RETRY_MS). Nothing waits, so a slow catch-up
never stalls the consumer.

Consumes: orders (CREATED opens an order; its outcome coming back confirms it),
          order-validations (batches of OrderValidation), order-deadlines.
Produces: orders (VALIDATED or FAILED), order-deadlines (the timer).
Keeps: order_states (order id -> OrderRecord): `order`, `results`, `outcome`, `confirmed`;
       open_orders (order id -> deadline).
"""

from __future__ import annotations

import asyncio
import logging
import time

from faust.types import TP

from app import metrics, topics
from app.main import app, settings
from app.deadlines import DeadlineAnnouncer
from app.framework.streams import consumes, current_partition
from models.records import TIMEOUT, CheckType, Order, OrderState, OrderValidation, ValidationResult
from models.state import OrderRecord
from tables.orders import order_states
from tables.validations import open_orders

REQUIRED_CHECKS = frozenset(CheckType)
#: How soon a held-back outcome is tried again.
HOLD_RETRY_MS = 1000

log = logging.getLogger(__name__)


def conclude(progress: OrderRecord, *, overdue: bool = False) -> Order | None:
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


def with_result(progress: OrderRecord, validation: OrderValidation) -> OrderRecord:
    """The first result of each check counts; a repeated one changes nothing."""
    if validation.check_type in progress.results:
        return progress
    results = {**progress.results, validation.check_type: validation.validation_result}
    return progress.model_copy(update={"results": results})


def _terminal(order: Order, state: OrderState, **fields) -> Order:
    return order.model_copy(update={"state": state, **fields})


def now_ms() -> int:
    return int(time.time() * 1000)


def _load(order_id: str) -> OrderRecord:
    return order_states.get(order_id) or OrderRecord()


async def _settle(order_id: str, progress: OrderRecord, *, overdue: bool = False) -> None:
    """Store `progress` with its outcome, if it now has one, then publish that outcome.

    Tables are written before the first `await`: the three agents share these tables and run
    in turns, so nothing can change them between this read and write.
    """
    outcome = conclude(progress, overdue=overdue)
    if outcome is not None:
        progress = progress.model_copy(update={"outcome": outcome})
    order_states[order_id] = progress
    if outcome is not None:
        await _publish(outcome)


async def _publish(outcome: Order) -> None:
    if not may_publish_now(current_partition()):
        open_orders[outcome.id] = now_ms() + HOLD_RETRY_MS  # the deadline timer tries again
        return
    await app.outputs.publish(  # every order-keyed topic is co-partitioned with `orders`
        topics.orders, outcome.id, outcome.to_bytes(), partition=current_partition(),
        timestamp=outcome.timestamp)


def _close(order_id: str) -> None:
    if order_id in open_orders:
        del open_orders[order_id]


@consumes(topics.orders, Order.from_bytes)
async def track_orders(order: Order) -> None:
    progress = _load(order.id)
    if order.state == OrderState.CREATED and progress.outcome is None:
        if order.id not in open_orders:
            # Also for an order already open: a crash in the middle of a flush can leave its
            # record in the changelog without its deadline, and it must not stay open forever.
            deadline = max(order.event_time_ms, now_ms()) + settings.order_timeout_s * 1000
            open_orders[order.id] = deadline
        if progress.order is None:
            await _settle(order.id, progress.model_copy(update={"order": order}))
    elif order.state != OrderState.CREATED and not progress.confirmed:
        # The log has the order's outcome: ours coming back, or one published before a crash
        # that the table lost. Either way it is the one.
        _close(order.id)
        order_states[order.id] = progress.model_copy(update={"outcome": order, "confirmed": True})


@consumes(topics.order_validations, OrderValidation, batched=True)
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
    await overdue_orders.announce(now_ms())


# Holding outcomes back after an assignment -----------------------------------------------------

def caught_up(end_at_assignment: int | None, committed: int | None) -> bool:
    """Whether a partition's `orders`, as they were when it was assigned, are all committed."""
    return end_at_assignment is not None and (committed or 0) >= end_at_assignment


#: `orders` partition -> its end offset when assigned (None: being looked up), until caught up.
catching_up: dict[int, int | None] = {}


def committed_offset(partition: int) -> int | None:
    """The group's committed offset of an `orders` partition, as this worker knows it."""
    tp = TP(topics.orders.get_topic_name(), partition)
    return app.consumer.committed_offsets().get(tp)


def held_partitions() -> list[int]:
    """The `orders` partitions whose outcomes are held back now (for `/metrics`)."""
    return [p for p, end in catching_up.items() if not caught_up(end, committed_offset(p))]


def may_publish_now(partition: int) -> bool:
    """Whether outcomes of `partition` may go out: it is not held, or it has caught up."""
    if partition not in catching_up:
        return True
    end = catching_up[partition]
    if end is None or not caught_up(end, committed_offset(partition)):
        return False
    del catching_up[partition]
    return True


#: Counts assignments, so that a slow look-up of an older one does not overwrite a newer one.
_assignments = 0
#: Look-ups under way (asyncio keeps only weak references to tasks).
_look_ups: set[asyncio.Future] = set()


async def hold_outcomes_until_caught_up(sender, assigned: set[TP], **_) -> None:
    """On every assignment: hold back the outcomes of the assigned partitions until caught up.

    Runs inside Faust's rebalance callback, so it only marks the partitions held; their end
    offsets are looked up beside it (with the broker down, a look-up can take long).
    """
    global _assignments
    _assignments += 1
    name = topics.orders.get_topic_name()
    partitions = [tp for tp in assigned if tp.topic == name]
    catching_up.clear()
    catching_up.update({tp.partition: None for tp in partitions})
    look_up = asyncio.ensure_future(_look_up_ends(partitions, _assignments))
    _look_ups.add(look_up)
    look_up.add_done_callback(_look_ups.discard)


async def _look_up_ends(partitions: list[TP], assignment: int) -> None:
    for attempt in range(1, 4):
        try:
            ends = await app.consumer.highwaters(*partitions)
            break
        except Exception as error:  # the broker is unreachable: try again, then let go
            log.warning("end offsets of %s unknown (%r), attempt %d", partitions, error, attempt)
            await asyncio.sleep(1)
    else:
        ends = {tp: 0 for tp in partitions}  # not knowing the end must not hold outcomes forever
    if assignment == _assignments:
        catching_up.update({tp.partition: end for tp, end in ends.items()})


app.connect("on_partitions_assigned", hold_outcomes_until_caught_up)
