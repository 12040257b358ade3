"""Email service: one email per paid, validated order, to its customer.

Faust has no stream joins, so the join is a table. VALIDATED orders (from `orders`) and payments
(re-keyed by order id to `payments-by-order`) meet in the order's record (`join`), keyed by order
id: whichever comes first waits there. They match when at most EMAIL_JOIN_WINDOW_S apart in event
time; that check, at match time, is what decides, so nothing expires the wait.

A match is re-keyed by customer id to meet its customer in `customer_records`, sent over SMTP
(retried with backoff while the server is unreachable) and recorded in `emails_sent`, whose
changelog is the topic `emails`: one record both tells the world and remembers that the email
went out, so a redelivered order or payment sends nothing more.

Consumes: orders (VALIDATED), payments (re-keyed to payments-by-order, batches of Payment),
          paid-orders-by-customer (batches of PaidOrder).
Produces: emails (as the changelog of emails_sent).
Keeps: payments_by_id (payment id -> the first Payment of that id: one payment id, one payment);
       order_states (order id -> OrderRecord): `join`;
       emails_sent (order id, stored with its customer -> Email).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable

from app import metrics, smtp, topics
from app.main import app, settings
from app.framework.streams import consumes, partition_for
from models.records import Customer, Email, Order, OrderState, PaidOrder, Payment, utc_now
from models.state import EmailJoin, OrderRecord
from tables.customers import customer_records
from tables.emails import emails_sent
from tables.orders import order_states
from tables.payments import payments_by_id

log = logging.getLogger(__name__)


def within(order: Order, payment: Payment, window_ms: int) -> bool:
    return abs(order.event_time_ms - payment.event_time_ms) <= window_ms


def join_order(
    entry: EmailJoin | None, order: Order, window_ms: int
) -> tuple[EmailJoin, PaidOrder | None]:
    """Add a VALIDATED order to its entry; the match if a waiting payment is inside the window.

    A matched entry answers its match again: what comes after it is a redelivery, and the
    email step drops repeats.
    """
    entry = entry or EmailJoin()
    if entry.match is not None or entry.order is not None:
        return entry, entry.match
    payment = next((p for p in entry.payments if within(order, p, window_ms)), None)
    if payment is None:
        return entry.model_copy(update={"order": order}), None
    return _matched(order, payment)


def join_payment(
    entry: EmailJoin | None, payment: Payment, window_ms: int
) -> tuple[EmailJoin, PaidOrder | None]:
    """Add a payment to its order's entry; the match if the order is there and inside the window.

    A payment too far from its order can never match and is dropped; one before its order waits.
    """
    entry = entry or EmailJoin()
    if entry.match is not None:
        return entry, entry.match
    if entry.order is not None:
        if within(entry.order, payment, window_ms):
            return _matched(entry.order, payment)
        return entry, None
    if any(waiting.id == payment.id for waiting in entry.payments):
        return entry, None
    return entry.model_copy(update={"payments": [*entry.payments, payment]}), None


def _matched(order: Order, payment: Payment) -> tuple[EmailJoin, PaidOrder]:
    match = PaidOrder(order=order, payment=payment)
    return EmailJoin(order=order, match=match), match


def compose_email(paid: PaidOrder, customer: Customer, sent_at: datetime) -> Email:
    order, payment = paid.order, paid.payment
    body = (
        f"Dear {customer.first_name} {customer.last_name},\n\n"
        f"thank you for your order {order.id}: {order.quantity} x {order.product}, "
        f"paid {payment.amount:.2f} {payment.ccy}.\n"
        "It has been validated and will be on its way soon.\n"
    )
    return Email(
        order_id=order.id, customer_id=customer.id, to=customer.email,
        subject=f"Your order {order.id}", body=body, sent_at=sent_at, delivered_by="none",
    )


# The join --------------------------------------------------------------------------------------

def _window_ms() -> int:
    return settings.email_join_window_s * 1000


def _join(order_id: str, add: Callable[[EmailJoin | None], tuple]) -> None:
    record = order_states.get(order_id) or OrderRecord()
    entry, match = add(record.join)
    if entry != record.join:
        order_states[order_id] = record.model_copy(update={"join": entry})
    already_matched = record.join is not None and record.join.match is not None
    if match is not None and not already_matched:
        customer = str(match.order.customer_id)
        app.outputs.add(topics.paid_orders_by_customer, partition_for(customer), match.to_bytes())


@consumes(topics.payments, Payment.from_bytes)
async def key_payments_by_order(payment: Payment) -> None:
    """The first payment of an id goes on to meet its order; a later one under that id, the same
    (a redelivery) or not (written around the API), does not."""
    stored = payments_by_id.get(payment.id)
    if stored is not None:
        if stored != payment:
            metrics.conflicting_payments.inc()
            log.warning("payment %s written again with other fields: the first stands", payment.id)
        return
    payments_by_id[payment.id] = payment
    app.outputs.add(topics.payments_by_order, partition_for(payment.order_id), payment.to_bytes())


@consumes(topics.orders, Order.from_bytes)
async def join_validated_orders(order: Order) -> None:
    if order.state == OrderState.VALIDATED:
        _join(order.id, lambda entry: join_order(entry, order, _window_ms()))


@consumes(topics.payments_by_order, Payment, batched=True)
async def join_payments(payment: Payment) -> None:
    _join(payment.order_id, lambda entry: join_payment(entry, payment, _window_ms()))


# Delivery --------------------------------------------------------------------------------------

async def deliver(email: Email) -> Email:
    """Send over SMTP, retrying with backoff until the server takes or refuses it for good."""
    if settings.smtp_host is None:
        return email
    delays = smtp.retry_delays()
    while True:
        try:
            await smtp.send(email, settings)
            return email.model_copy(update={"delivered_by": "smtp", "sent_at": utc_now()})
        except Exception as error:  # aiosmtplib's errors, OSError, timeouts: all kept apart below
            if smtp.is_permanent(error):
                log.error("email for order %s refused for good: %s", email.order_id, error)
                return email.model_copy(update={"delivered_by": "refused"})
            delay = next(delays)
            metrics.email_retries.inc()
            log.warning(
                "email for order %s not sent (%r); retrying in %.1fs", email.order_id, error, delay
            )
            await asyncio.sleep(delay)


@consumes(topics.paid_orders_by_customer, PaidOrder, batched=True)
async def send_emails(paid: PaidOrder) -> None:
    order = paid.order
    if order.id in emails_sent:
        return
    customer = customer_records.get(str(order.customer_id))
    if customer is None:
        metrics.emails.labels("no_customer").inc()
        log.info("no email for order %s: customer %s unknown", order.id, order.customer_id)
        return
    email = await deliver(compose_email(paid, customer, utc_now()))
    emails_sent[order.id] = email  # and so on `emails`
    metrics.emails.labels(email.delivered_by).inc()
