"""The customers services: rows of the legacy table become Customer records (or dead letters
with the reason), and a deleted row deletes the customer."""

import json

from agents.customers import record_customers
from agents.legacy_customers import publish_customers
from models.records import Customer
from tables.customers import customer_records
from tests.agents.conftest import framed

ROW = {"id": 7, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
       "address": "1 Demo Street", "level": "gold", "updated_at": 1767225600000000}


def row(**changes) -> bytes:
    return json.dumps({**ROW, **changes}).encode()


async def test_a_legacy_row_is_published_as_a_customer_and_a_deleted_row_as_a_tombstone(sent):
    async with publish_customers.test_context() as agent:
        await agent.put(key=b"7", value=row())
        await agent.put(key=b"8", value=row(id=8, level=None))
        await agent.put(key=b"7", value=None)
        await agent.put(key=b"8", value=b"null")  # a deletion as Connect's JsonConverter writes it
    assert sent.records("customers") == [
        ("7", {"id": 7, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
               "address": "1 Demo Street", "level": "gold"}),
        ("8", {"id": 8, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
               "address": "1 Demo Street", "level": "bronze"}),
        ("7", None),
        ("8", None),
    ]
    assert not sent["legacy-customers-dead-letters"].await_args_list


async def test_a_row_that_cannot_be_a_customer_is_a_dead_letter_with_the_reason(sent):
    async with publish_customers.test_context() as agent:
        await agent.put(key=b"7", value=row(email=""))
        await agent.put(key=b"9", value=row())  # under another customer's key
        await agent.put(key=b"3", value=b"[1, 2]")
        await agent.put(key=b"8", value=row(id=8))
    empty_email, wrong_key, not_a_row = sent["legacy-customers-dead-letters"].await_args_list
    assert empty_email.kwargs["value"] == row(email="")
    assert empty_email.kwargs["headers"]["error"].startswith(b"row 7 is not a customer: email:")
    assert wrong_key.kwargs["headers"]["error"] == b"key '9' is not the row's id 7"
    assert b"JSON object" in not_a_row.kwargs["headers"]["error"]
    assert [key for key, _ in sent.records("customers")] == ["8"]


async def test_a_tombstone_on_customers_deletes_the_customer(sent):
    customer = Customer(id=5, first_name="B", last_name="L", email="b@example.com", address="x")
    async with record_customers.test_context() as agent:
        await agent.put(key=b"5", value=framed(customer))
        assert customer_records["5"] == customer
        await agent.put(key=b"5", value=None)
        assert "5" not in customer_records
        await agent.put(key=b"6", value=None)  # an unknown customer: nothing to delete
    assert not sent["customers-dead-letters"].await_args_list
