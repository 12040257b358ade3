"""Tables of the customers service, keyed by customer id (co-partitioned with `customers`)."""

from __future__ import annotations

from models.records import Customer
from app.framework.store import table

#: The latest Customer per customer id. Written through: the email and routing services read it
#: beside their own input, and after a crash the next owner replays that input in whatever order
#: Faust interleaves the topics, so the customer must already be in the changelog.
customer_records = table("customer_records", model=Customer, write_through=True)
