"""Tables of the customers service, keyed by customer id (co-partitioned with `customers`)."""

from __future__ import annotations

from models.records import Customer
from tables.store import table

#: The latest Customer per customer id. Written through, like `stock_levels`: the email and
#: routing services read it beside their own input, and a replay after a crash must find it.
customer_records = table("customer_records", model=Customer, write_through=True)
