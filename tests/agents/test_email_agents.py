"""The email service's agents under `agent.test_context()` (no SMTP_HOST: emails are recorded)."""

import uuid
from datetime import datetime, timedelta, timezone

from agents.customers import record_customers
from agents.emails import join_payments, join_validated_orders, key_payments_by_order, send_emails
from agents.routing import route_by_level
from app import metrics, topics
from models.records import Customer, Order, OrderEvent, OrderState, PaidOrder, Payment
from tables.customers import customer_records
from tables.emails import emails_sent
from tables.orders import order_states
from tables.payments import payments_by_id
from tests.agents.conftest import batch, framed

T0 = datetime.now(timezone.utc)


def customer(customer_id: int, level="gold") -> Customer:
    return Customer(id=customer_id, first_name="Ada", last_name="L", email=f"c{customer_id}@x.org",
                    address="1 Road", level=level)


def order(order_id: str, customer_id: int, seconds=0) -> Order:
    return Order(id=order_id, customer_id=customer_id, state=OrderState.VALIDATED,
                 product="SOCKS", quantity=1, price=5.0, created_at=T0 + timedelta(seconds=seconds))


def payment(order_id: str, seconds=0) -> Payment:
    return Payment(id=f"pay-{uuid.uuid4().hex[:6]}", order_id=order_id, ccy="EUR", amount=5.0,
                   created_at=T0 + timedelta(seconds=seconds))


async def store_customers(*customers: Customer) -> None:
    async with record_customers.test_context() as agent:
        for c in customers:
            await agent.put(key=str(c.id).encode(), value=framed(c))


async def test_a_customer_keyed_by_another_id_is_a_dead_letter(sent):
    async with record_customers.test_context() as agent:
        await agent.put(key=b"41", value=framed(customer(42)))
    assert "41" not in customer_records and "42" not in customer_records
    [dead] = sent["customers-dead-letters"].await_args_list
    assert dead.kwargs["headers"]["error"] == b"key '41' is not the customer's id 42"


async def test_a_match_is_emailed_once_and_an_unknown_customer_not_at_all(sent):
    await store_customers(customer(51))
    known = PaidOrder(order=order("e1", 51), payment=payment("e1"))
    unknown = PaidOrder(order=order("e2", 52), payment=payment("e2"))
    dropped = metrics.sample("emails_total", outcome="no_customer")
    emailed = metrics.sample("emails_total", outcome="none")
    async with send_emails.test_context() as agent:
        await agent.put(key=None, value=batch(known, known))
        await agent.put(key=None, value=batch(known, unknown))
    email = emails_sent["e1"]  # and so on `emails`, its changelog
    assert (email.order_id, email.to, email.delivered_by) == ("e1", "c51@x.org", "none")
    assert metrics.sample("emails_total", outcome="none") == emailed + 1
    assert "e2" not in emails_sent
    assert metrics.sample("emails_total", outcome="no_customer") == dropped + 1


def test_the_email_record_is_the_changelog_of_the_emails_sent():
    # One record both publishes the email and remembers it: a crash cannot split them.
    assert emails_sent.changelog_topic.get_topic_name() == topics.emails.get_topic_name()


async def test_orders_are_routed_by_level_and_unknown_levels_counted(sent):
    await store_customers(customer(61, "gold"), customer(62, "diamond"))
    diamonds = metrics.sample("orders_unrouted_total", level="diamond")
    events = [OrderEvent(partition=3, offset=n, order=order(f"r{n}", 60 + n)) for n in (1, 2, 3)]
    async with route_by_level.test_context() as agent:
        await agent.put(key=None, value=batch(*events))  # customer 63 is not known
    assert sent.published["gold"] == [
        ("r1", {"id": "r1", "customerId": 61, "customerLevel": "gold"}, 3)]
    assert metrics.sample("orders_unrouted_total", level="diamond") == diamonds + 1
    assert all(not sent.published[level] for level in ("platinum", "silver", "bronze"))


async def test_a_payment_waits_in_its_order_record_and_the_match_goes_out_once(sent):
    async with join_payments.test_context() as agent:
        await agent.put(key=None, value=batch(payment("j1", seconds=-30), payment("j1", seconds=90)))
    assert len(order_states["j1"].join.payments) == 2
    async with join_validated_orders.test_context() as agent:
        await agent.put(key=b"j1", value=framed(order("j1", 71)))
        await agent.put(key=b"j1", value=framed(order("j1", 71)))  # redelivered
    [(partition, match)] = sent.added["paid-orders-by-customer"]
    assert (match["order"]["id"], match["payment"]["orderId"]) == ("j1", "j1")
    assert order_states["j1"].join.match is not None


async def test_a_payment_outside_the_window_never_matches(sent):
    async with join_validated_orders.test_context() as agent:
        await agent.put(key=b"j2", value=framed(order("j2", 72)))
    async with join_payments.test_context() as agent:
        await agent.put(key=None, value=batch(payment("j2", seconds=61)))
    assert sent.added["paid-orders-by-customer"] == []


async def test_only_the_first_payment_of_an_id_goes_on_to_its_order(sent):
    first = payment("k1")
    other = first.model_copy(update={"amount": 99.0})
    conflicting = metrics.sample("payments_conflicting_total")
    async with key_payments_by_order.test_context() as agent:
        await agent.put(key=first.id.encode(), value=framed(first))
        await agent.put(key=first.id.encode(), value=framed(first))  # redelivered
        await agent.put(key=first.id.encode(), value=framed(other))  # written around the API
    assert [item["amount"] for item in sent.items("payments-by-order")] == [5.0]
    assert payments_by_id[first.id] == first
    assert metrics.sample("payments_conflicting_total") == conflicting + 1
