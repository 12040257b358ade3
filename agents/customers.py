"""Customers service: the latest record of each customer, for the email service and the API.

Consumes: customers (from the SQL loader, `faust -A app load-customers`, the legacy customers
          service and the HTTP API; a tombstone deletes the customer).
Keeps: customer_records (customer id -> Customer).
"""

from __future__ import annotations

from app import topics
from app.framework.streams import Rejected, consumes
from models.records import Customer
from tables.customers import customer_records


@consumes(topics.customers, Customer.from_bytes, keyed=True, tombstones=True)
async def record_customers(customer_id: str, customer: Customer | None) -> None:
    if customer is None:  # a tombstone: the customer was deleted
        customer_records.pop(customer_id, None)
        return
    if customer_id != str(customer.id):
        # Stored under another key, no lookup by its id would find it.
        raise Rejected(f"key {customer_id!r} is not the customer's id {customer.id}")
    customer_records[customer_id] = customer
