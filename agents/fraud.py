"""Fraud check: a customer's spending in a session of activity must stay under the limit.

A session (event time) lasts while the customer's orders are at most FRAUD_SESSION_GAP_S apart.
Its running total of quantity x price includes the current order; at FRAUD_LIMIT or above the
order fails, and so does every later order of that session. Faust has no session windows, so the
session is a plain table entry, (total, last event time). The same record holds the `orders`
offsets it has counted, so deciding an order is one write: a redelivered order is found counted
in the record it would change, and skipped.

Consumes: orders-by-customer (OrderEvent items; CREATED).
Produces: order-validations (FRAUD_CHECK items).
Keeps: fraud_sessions (customer id -> FraudSession).
"""

from __future__ import annotations

from app import topics
from app.main import settings
from app.framework.streams import consumes, report_validation
from models.records import CheckType, OrderEvent, OrderState, ValidationResult
from models.state import FraudSession
from tables.fraud import fraud_sessions


def assess_fraud(
    session: FraudSession | None, cents: int, event_ms: int, *, limit_cents: int, gap_ms: int
) -> tuple[FraudSession, ValidationResult]:
    """The customer's session after this order, and the order's result."""
    session = session or FraudSession()
    if event_ms - session.last_event_ms > gap_ms:
        session = session.model_copy(update={"total_cents": 0, "last_event_ms": 0})
    total = session.total_cents + cents
    result = ValidationResult.FAIL if total >= limit_cents else ValidationResult.PASS
    last = max(session.last_event_ms, event_ms)
    return session.model_copy(update={"total_cents": total, "last_event_ms": last}), result


def count_order(
    session: FraudSession | None, event: OrderEvent, *, limit_cents: int, gap_ms: int
) -> tuple[FraudSession, ValidationResult] | None:
    """The session after counting `event`'s order and the order's result, or None if the session
    has counted it already (its answer went out then)."""
    if session is not None and session.applied(event.SOURCE, event.partition, event.offset):
        return None
    order = event.order
    updated, result = assess_fraud(
        session, order.amount_cents, order.event_time_ms, limit_cents=limit_cents, gap_ms=gap_ms)
    marks = updated.marks_after(event.SOURCE, event.partition, event.offset)
    return updated.model_copy(update={"applied_up_to": marks}), result


@consumes(topics.orders_by_customer, OrderEvent, batched=True)
async def check_fraud(event: OrderEvent) -> None:
    order = event.order
    if order.state != OrderState.CREATED:
        return
    customer = str(order.customer_id)
    counted = count_order(
        fraud_sessions.get(customer), event,
        limit_cents=settings.fraud_limit * 100, gap_ms=settings.fraud_session_gap_s * 1000,
    )
    if counted is not None:
        fraud_sessions[customer], result = counted
        report_validation(event.partition, order.id, CheckType.FRAUD_CHECK, result)
