"""Tables of the customers service, keyed by customer id (co-partitioned with `customers`)."""

from __future__ import annotations

from models.records import Customer
from tables.store import table

#: The latest Customer per customer id.
customer_records = table("customer_records", model=Customer)
