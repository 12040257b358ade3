"""Legacy customers service: the rows of a legacy database's `customers` table, captured by
Debezium through Kafka Connect (app/connect.py), published as this app's Customer records.

The legacy table's shape is not this app's contract: this service is where a row becomes a
Customer (the API's rules for a customer, `customer_from_row`), or is refused with the reason.

Consumes: legacy-customers (a row as plain JSON with the table's columns, keyed by customer id;
          JSON `null` or a tombstone when the row was deleted).
Produces: customers (the Customer, framed with its registered schema; a tombstone for a deleted
          row, which removes the customer from `GET /v1/customers/{id}`).
A row that cannot be a Customer (an empty email, an unknown level, ...) goes to
`legacy-customers-dead-letters` with what is wrong, and the rows after it go on.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from app import topics
from app.framework.streams import Rejected, consumes, describe
from app.main import app
from models.requests import customer_from_row


def parse_row(raw: bytes) -> dict[str, Any] | None:
    """A row as a dict; None for JSON `null`, which is how Connect's JsonConverter writes the
    tombstone of a deleted row (a Kafka tombstone is handled as None too)."""
    row = json.loads(raw)
    if row is not None and not isinstance(row, dict):
        raise ValueError("a row is a JSON object of the table's columns")
    return row


@consumes(topics.legacy_customers, parse_row, keyed=True, tombstones=True)
async def publish_customers(customer_id: str, row: dict[str, Any] | None) -> None:
    if row is None:
        await app.outputs.publish(topics.customers, customer_id, None)
        return
    try:
        customer = customer_from_row(row)
    except ValidationError as exc:
        raise Rejected(f"row {customer_id} is not a customer: {describe(exc)}") from None
    if str(customer.id) != customer_id:
        raise Rejected(f"key {customer_id!r} is not the row's id {customer.id}")
    await app.outputs.publish(topics.customers, customer_id, customer.to_bytes())
