"""The email service's agents under `agent.test_context()` (no SMTP_HOST: emails are recorded)."""

import json
import uuid
from datetime import datetime, timedelta, timezone

from agents.customers import record_customers
from agents.emails import expire_joins, join_payments, send_emails
from agents.routing import route_by_level
from app import metrics
from models.records import Customer, Order, OrderState, PaidOrder, Payment
from tables.customers import customer_records
from tables.emails import email_joins, open_joins

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
            await agent.put(key=str(c.id).encode(), value=c.to_bytes())


async def test_a_customer_keyed_by_another_id_is_a_dead_letter(sent):
    async with record_customers.test_context() as agent:
        await agent.put(key=b"41", value=customer(42).to_bytes())
    assert "41" not in customer_records and "42" not in customer_records
    [dead] = sent["customers-dead-letters"].await_args_list
    assert dead.kwargs["headers"]["error"] == b"key '41' is not the customer's id 42"


async def test_a_match_is_emailed_once_and_an_unknown_customer_not_at_all(sent):
    await store_customers(customer(51))
    known = PaidOrder(order=order("e1", 51), payment=payment("e1")).to_bytes()
    unknown = PaidOrder(order=order("e2", 52), payment=payment("e2")).to_bytes()
    dropped = metrics.sample("emails_total", outcome="no_customer")
    async with send_emails.test_context() as agent:
        await agent.put(key=b"51", value=known)
        await agent.put(key=b"51", value=known)
        await agent.put(key=b"52", value=unknown)
    [email] = [json.loads(call.kwargs["value"]) for call in sent["emails"].await_args_list]
    assert (email["orderId"], email["to"], email["deliveredBy"]) == ("e1", "c51@x.org", "none")
    assert metrics.sample("emails_total", outcome="no_customer") == dropped + 1


async def test_orders_are_routed_by_level_and_unknown_levels_counted(sent):
    await store_customers(customer(61, "gold"), customer(62, "diamond"))
    diamonds = metrics.sample("orders_unrouted_total", level="diamond")
    async with route_by_level.test_context() as agent:
        await agent.put(key=b"61", value=order("r1", 61).to_bytes())
        await agent.put(key=b"62", value=order("r2", 62).to_bytes())
        await agent.put(key=b"63", value=order("r3", 63).to_bytes())  # no such customer
    [routed] = sent["gold"].await_args_list
    assert json.loads(routed.kwargs["value"]) == {"id": "r1", "customerId": 61, "customerLevel": "gold"}
    assert metrics.sample("orders_unrouted_total", level="diamond") == diamonds + 1
    assert all(not sent[level].await_args_list for level in ("platinum", "silver", "bronze"))


async def test_a_waiting_payment_expires_once_event_time_passes_window_and_grace(sent):
    async with join_payments.test_context() as agent:
        await agent.put(key=b"x1", value=payment("x1").to_bytes(), partition=0)
    assert "x1" in email_joins and "x1" in open_joins
    async with expire_joins.test_context() as agent:
        await agent.put(key=b"x1", value=b"", partition=0)  # the clock has not passed it
        assert "x1" in email_joins
    async with join_payments.test_context() as agent:  # later traffic moves the clock on
        await agent.put(key=b"x2", value=payment("x2", seconds=121).to_bytes(), partition=0)
    async with expire_joins.test_context() as agent:
        await agent.put(key=b"x1", value=b"", partition=0)
    assert "x1" not in email_joins and "x1" not in open_joins and "x2" in email_joins
