"""Customers service: the latest record of each customer, for the email service and the API.

Consumes: customers (from the SQL loader, `faust -A app load-customers`, and the HTTP API).
Keeps: customer_records (customer id -> Customer).
"""

from __future__ import annotations

from faust import current_event

from app import topics
from app.main import app
from app.streams import decoded_items, send_to_dead_letters
from models.records import Customer
from tables.customers import customer_records


@app.agent(topics.customers)
async def record_customers(customers):
    async for customer_id, customer in decoded_items(customers, Customer.from_bytes):
        if customer_id != str(customer.id):
            # Stored under another key, no lookup by its id would find it.
            error = f"key {customer_id!r} is not the customer's id {customer.id}"
            await send_to_dead_letters(current_event(), error)
            continue
        customer_records[customer_id] = customer.to_bytes()
