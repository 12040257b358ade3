"""Tables of the customers service, keyed by customer id (co-partitioned with `customers`)."""

from __future__ import annotations

from tables.store import table

#: The latest Customer (JSON, as on `customers`) per customer id.
customer_records = table("customer_records", value_type=bytes)
