"""The email service through the real broker and a real SMTP server (aiosmtpd) in the test."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from contextlib import closing
from datetime import datetime, timedelta, timezone
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from app.demo import make_demo_database
from app.processes import faust_command
from tests.integration.api import (
    new_customer, new_product, outcome, pay, place, put_customer, set_stock,
)
from tests.integration.conftest import OrdersApp, eventually, free_port

#: What the join reads, and what it writes, in pipeline order: once the app's consumer group has
#: committed all of them (Faust flushes a record's outputs before committing it), nothing about
#: an earlier payment is still on its way.
PIPELINE = ["payments", "orders", "payments-by-order", "paid-orders-by-customer"]


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def for_order(self, order_id: str) -> list:
        return [m for m in self.messages
                if message_from_bytes(m.content)["Subject"] == f"Your order {order_id}"]


def start_smtp(port: int) -> tuple[Controller, Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox


@pytest.fixture(scope="module")
def smtp():
    controller, mailbox = start_smtp(free_port())
    yield controller, mailbox
    controller.stop()


@pytest.fixture(scope="module")
def email_app(kafka, registry, tmp_path_factory, smtp):
    controller, _ = smtp
    app = OrdersApp(kafka, registry, tmp_path_factory.mktemp("email-app"),
                    {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port)})
    app.add_worker()
    yield app
    app.stop()


@pytest.fixture()
def url(email_app) -> str:
    return email_app.workers[0].url


@pytest.fixture()
def mailbox(smtp) -> Mailbox:
    return smtp[1]


async def validated_order(http, url, customer: int, **order) -> str:
    product = new_product()
    await set_stock(http, url, product, 10)
    order_id = await place(http, url, product=product, customer=customer, **order)
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"
    return order_id


async def recorded_emails(app, order_id: str) -> list[dict]:
    return [json.loads(value) for key, value in await app.read_topic("emails")
            if key == order_id.encode()]


async def settled(app) -> None:
    for name in PIPELINE:
        await eventually(lambda: app.caught_up(name))


async def test_a_paid_validated_order_gets_one_email(http, url, email_app, mailbox):
    customer = new_customer()
    await put_customer(http, url, customer)
    order_id = await validated_order(http, url, customer, quantity=2, price=7.5)
    await pay(http, url, order_id, 15.0)

    async def received():
        return mailbox.for_order(order_id)

    [message] = await eventually(received)
    await settled(email_app)
    assert len(mailbox.for_order(order_id)) == 1
    assert message.rcpt_tos == [f"customer-{customer}@example.com"]
    body = message_from_bytes(message.content).get_payload()
    assert f"order {order_id}: 2 x " in body and "paid 15.00 EUR" in body
    [recorded] = await recorded_emails(email_app, order_id)
    assert (recorded["to"], recorded["deliveredBy"]) == (f"customer-{customer}@example.com", "smtp")
    traced = await asyncio.to_thread(
        subprocess.run, faust_command("trace", order_id), env=email_app.workers[0].environment,
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert [line.split(maxsplit=3)[1] for line in traced.stdout.splitlines()][-2:] == [
        "payments-by-order", "emails",
    ]


async def test_a_payment_before_its_order_within_the_window_gets_one_email(
    http, url, email_app, mailbox
):
    customer = new_customer()
    await put_customer(http, url, customer)
    order_id = f"early-{new_customer()}"
    await pay(http, url, order_id, 5.0)
    await validated_order(http, url, customer, order_id=order_id)
    await eventually(lambda: recorded_emails(email_app, order_id))
    await settled(email_app)
    assert len(mailbox.for_order(order_id)) == 1


async def test_only_a_payment_within_a_minute_of_its_order_in_event_time_matches(
    http, url, email_app, mailbox
):
    customer = new_customer()
    await put_customer(http, url, customer)
    now = datetime.now(timezone.utc)
    inside = await validated_order(http, url, customer, created_at=now - timedelta(seconds=59))
    outside = await validated_order(http, url, customer, created_at=now - timedelta(seconds=61))
    for order_id in (inside, outside):
        await pay(http, url, order_id, 5.0, created_at=now)
    await eventually(lambda: recorded_emails(email_app, inside))
    await settled(email_app)
    assert len(mailbox.for_order(inside)) == 1
    assert mailbox.for_order(outside) == [] and await recorded_emails(email_app, outside) == []


async def test_an_unknown_customer_gets_no_email(http, url, email_app, mailbox):
    order_id = await validated_order(http, url, new_customer())
    await pay(http, url, order_id, 5.0)
    await settled(email_app)
    assert mailbox.for_order(order_id) == [] and await recorded_emails(email_app, order_id) == []


async def test_a_redelivered_payment_or_order_sends_no_second_email(
    http, url, email_app, mailbox
):
    customer = new_customer()
    await put_customer(http, url, customer)
    order_id = await validated_order(http, url, customer)
    payment = await pay(http, url, order_id, 5.0)
    await eventually(lambda: recorded_emails(email_app, order_id))
    wire = json.dumps(payment).encode()
    for _ in range(2):
        await email_app.produce("payments", payment["id"].encode(), wire)
    await pay(http, url, order_id, 5.0)  # a second payment for the same order, too
    [validated] = [v for k, v in await email_app.read_topic("orders")
                   if k == order_id.encode() and json.loads(v)["state"] == "VALIDATED"]
    await email_app.produce("orders", order_id.encode(), validated)
    await settled(email_app)
    assert len(mailbox.for_order(order_id)) == 1
    assert len(await recorded_emails(email_app, order_id)) == 1


async def test_an_order_of_a_gold_customer_is_routed_to_gold(http, url, email_app):
    customer = new_customer()
    await put_customer(http, url, customer, level="gold")
    order_id = await validated_order(http, url, customer)

    async def routed():
        return [json.loads(v) for k, v in await email_app.read_topic("gold") if k == order_id.encode()]

    enriched = await eventually(routed)
    assert enriched[0] == {"id": order_id, "customerId": customer, "customerLevel": "gold"}
    for other in ("platinum", "silver", "bronze"):
        assert order_id.encode() not in [k for k, _ in await email_app.read_topic(other)]


async def test_smtp_down_then_up_delivers_once_and_a_restart_sends_nothing_more(
    http, new_app, tmp_path
):
    smtp_port = free_port()  # nothing listens there yet
    app = new_app({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)})
    worker = app.add_worker(data_dir=tmp_path / "worker")
    url = worker.url
    customer = new_customer()
    await put_customer(http, url, customer)
    order_id = await validated_order(http, url, customer)
    payment = await pay(http, url, order_id, 5.0)

    async def retrying():
        return "retrying in" in worker.log_file.read_text()

    await eventually(retrying)
    controller, mailbox = start_smtp(smtp_port)
    try:
        async def received():
            return mailbox.for_order(order_id)

        await eventually(received, timeout=60)
        await eventually(lambda: recorded_emails(app, order_id))
        await settled(app)
        # A restart, then the payment again: still one email.
        worker.stop()
        worker.start().wait_healthy()
        await app.produce("payments", payment["id"].encode(), json.dumps(payment).encode())
        await settled(app)
        assert len(mailbox.for_order(order_id)) == 1
        assert len(await recorded_emails(app, order_id)) == 1
    finally:
        controller.stop()



async def test_the_sql_loader_publishes_each_customer_once_and_then_only_changes(
    http, url, email_app, tmp_path
):
    database = make_demo_database(tmp_path / "customers.sqlite")

    async def load() -> str:
        done = await asyncio.to_thread(
            subprocess.run, faust_command("load-customers", str(database)),
            env=email_app.workers[0].environment, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    async def published_ids() -> list[int]:
        return [int(key) for key, _ in await email_app.read_topic("customers")
                if int(key) <= 9]

    assert "published 9 customers" in await load()
    assert "published 0 customers" in await load()
    assert sorted(await published_ids()) == list(range(1, 10))
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(
            "UPDATE customers SET level = 'gold', updated_at = '2026-02-01 00:00:00.000' WHERE id = 3"
        )
    assert "published 1 customers" in await load()
    assert sorted(await published_ids()) == sorted([*range(1, 10), 3])

    async def updated():
        async with http.get(f"{url}/v1/customers/3") as response:
            return response.status == 200 and (await response.json())["level"] == "gold"

    await eventually(updated)
