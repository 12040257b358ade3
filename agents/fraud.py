"""Fraud check: a customer's spending in a session of activity must stay under the limit.

A session (event time) lasts while the customer's orders are at most FRAUD_SESSION_GAP_S apart.
Its running total of quantity x price includes the current order; at FRAUD_LIMIT or above the
order fails, and so does every later order of that session. Faust has no session windows, so the
session is a plain table entry, (total, last event time), and each order's answer is kept beside
it, so a redelivered order gets its first answer again and is not counted twice.

Consumes: orders (CREATED), re-keyed by customer id to orders-by-customer (with every state,
          for routing by level).
Produces: order-validations (FRAUD_CHECK).
Keeps: fraud_sessions (customer id -> FraudSession), fraud_checks (order id -> result).
"""

from __future__ import annotations

from app import topics
from app.main import settings
from app.streams import consumes, publish_validation
from models.records import CheckType, Order, OrderState, ValidationResult
from models.state import FraudSession
from tables.fraud import fraud_checks, fraud_sessions


def amount_cents(order: Order) -> int:
    """Money in whole cents, so the limit is exact at its boundary."""
    return round(order.quantity * order.price * 100)


def assess_fraud(
    session: FraudSession | None, cents: int, event_ms: int, *, limit_cents: int, gap_ms: int
) -> tuple[FraudSession, ValidationResult]:
    """The customer's session after this order, and the order's result."""
    if session is None or event_ms - session.last_event_ms > gap_ms:
        session = FraudSession()
    total = session.total_cents + cents
    result = ValidationResult.FAIL if total >= limit_cents else ValidationResult.PASS
    return FraudSession(total_cents=total, last_event_ms=max(session.last_event_ms, event_ms)), result


@consumes(topics.orders, Order.from_bytes)
async def key_orders_by_customer(order: Order) -> None:
    """Every order event, by customer: the fraud check reads CREATED, routing by level all."""
    await topics.orders_by_customer.send(
        key=str(order.customer_id).encode(), value=order.to_bytes(), timestamp=order.timestamp
    )


@consumes(topics.orders_by_customer, Order.from_bytes)
async def check_fraud(order: Order) -> None:
    if order.state != OrderState.CREATED:
        return
    answered = fraud_checks.get(order.id)
    if answered is not None:
        result = ValidationResult(answered)
    else:
        customer = str(order.customer_id)
        stored = fraud_sessions.get(customer)
        session, result = assess_fraud(
            stored and FraudSession.from_bytes(stored),
            amount_cents(order),
            order.event_time_ms,
            limit_cents=settings.fraud_limit * 100,
            gap_ms=settings.fraud_session_gap_s * 1000,
        )
        fraud_sessions[customer] = session.to_bytes()
        fraud_checks[order.id] = result.value
    await publish_validation(order.id, CheckType.FRAUD_CHECK, result)
