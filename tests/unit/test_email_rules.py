"""The email service's rules: the join, the email, SMTP failures, the SQL loader's checkpoint."""

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from itertools import islice

import aiosmtplib
import pytest

from agents.emails import compose_email, join_order, join_payment
from agents.routing import enrich
from app.customers_loader import Checkpoint, changed_rows
from models.requests import customer_from_row
from app.demo import make_demo_database
from app.smtp import is_permanent, retry_delays
from models.records import Customer, Order, OrderState, PaidOrder, Payment

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
MINUTE_MS = 60_000


def order(seconds=0, order_id="o1") -> Order:
    return Order(id=order_id, customer_id=5, state=OrderState.VALIDATED, product="JUMPERS",
                 quantity=2, price=7.5, created_at=T0 + timedelta(seconds=seconds))


def payment(seconds=0, payment_id="p1") -> Payment:
    return Payment(id=payment_id, order_id="o1", ccy="EUR", amount=15.0,
                   created_at=T0 + timedelta(seconds=seconds))


@pytest.mark.parametrize("payment_at, matches", [(0, True), (60, True), (-60, True),
                                                 (61, False), (-61, False)])
def test_order_then_payment_match_within_a_minute_of_event_time(payment_at, matches):
    entry, none = join_order(None, order(), MINUTE_MS)
    assert none is None
    _, match = join_payment(entry, payment(payment_at), MINUTE_MS)
    assert (match is not None) == matches


@pytest.mark.parametrize("payment_at, matches", [(-30, True), (61, False)])
def test_a_payment_waits_for_its_order(payment_at, matches):
    entry, none = join_payment(None, payment(payment_at), MINUTE_MS)
    assert none is None and entry.payments == [payment(payment_at)]
    _, match = join_order(entry, order(), MINUTE_MS)
    assert (match == PaidOrder(order=order(), payment=payment(payment_at))) == matches


def test_a_matched_entry_gives_its_match_again_and_takes_nothing_more():
    entry, match = join_payment(join_order(None, order(), MINUTE_MS)[0], payment(), MINUTE_MS)
    again, repeated = join_payment(entry, payment(5, "p2"), MINUTE_MS)
    assert repeated == match and again == entry
    assert join_order(entry, order(), MINUTE_MS) == (entry, match)


def test_a_repeated_waiting_payment_is_kept_once():
    entry, _ = join_payment(None, payment(), MINUTE_MS)
    assert join_payment(entry, payment(), MINUTE_MS)[0].payments == [payment()]


def test_the_email_names_the_order_product_quantity_and_amount():
    customer = Customer(id=5, first_name="Barbara", last_name="Liskov", email="b@example.com",
                        address="5 Demo Street")
    email = compose_email(PaidOrder(order=order(), payment=payment()), customer, T0)
    assert (email.to, email.subject, email.order_id) == ("b@example.com", "Your order o1", "o1")
    assert "o1: 2 x JUMPERS, paid 15.00 EUR" in email.body
    assert email.body.startswith("Dear Barbara Liskov,")


def test_enriching_names_the_customer_level():
    customer = Customer(id=5, first_name="B", last_name="L", email="b@x", address="", level="gold")
    assert enrich(order(), customer).to_json() == {"id": "o1", "customerId": 5, "customerLevel": "gold"}


def test_only_a_refusal_of_the_email_itself_is_permanent():
    refused = aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@example.com")
    busy = aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "x@example.com")
    assert is_permanent(refused)
    assert is_permanent(aiosmtplib.SMTPRecipientsRefused([refused]))
    assert is_permanent(aiosmtplib.SMTPDataError(554, "content rejected"))
    assert not is_permanent(busy)
    assert not is_permanent(aiosmtplib.SMTPRecipientsRefused([refused, busy]))
    assert not is_permanent(aiosmtplib.SMTPAuthenticationError(535, "bad login"))
    assert not is_permanent(aiosmtplib.SMTPConnectError("refused"))
    assert not is_permanent(ConnectionRefusedError())


def test_retries_back_off_doubling_up_to_a_cap():
    assert list(islice(retry_delays(0.5, 4.0), 6)) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_the_loader_reads_rows_after_its_checkpoint(tmp_path):
    database = make_demo_database(tmp_path / "customers.sqlite")
    everyone = changed_rows(database, Checkpoint())
    assert [row["id"] for row in everyone] == list(range(1, 10))
    last = everyone[-1]
    assert changed_rows(database, Checkpoint(last["updated_at"], last["id"])) == []
    halfway = Checkpoint(everyone[4]["updated_at"], everyone[4]["id"])
    assert [row["id"] for row in changed_rows(database, halfway)] == [6, 7, 8, 9]
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE customers SET updated_at = '2027-01-01 00:00:00.000' WHERE id = 2")
    assert [row["id"] for row in changed_rows(database, Checkpoint(last["updated_at"], 9))] == [2]


def test_demo_rows_become_the_reference_customers(tmp_path):
    rows = changed_rows(make_demo_database(tmp_path / "customers.sqlite"), Checkpoint())
    customers = [customer_from_row(dict(row)) for row in rows]
    assert [c.level for c in customers] == [
        "platinum", "platinum", "platinum", "bronze", "gold", "silver", "gold", "silver", "bronze",
    ]
    assert all("@" in c.email for c in customers)


def test_the_loader_refuses_a_missing_database(tmp_path):
    with pytest.raises(FileNotFoundError):
        changed_rows(tmp_path / "nowhere.sqlite", Checkpoint())
