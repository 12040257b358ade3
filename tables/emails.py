"""Tables of the email service, keyed by order id but written from the customer-keyed stream of
matches (`paid-orders-by-customer`), so an order's entry sits with its customer."""

from __future__ import annotations

from models.records import Email
from app.framework.store import table

#: The Email of each order whose email went out (or was recorded), so none goes out twice.
#: Written through: after a crash, the worker that takes the customer over must find the emails
#: sent until milliseconds before it, not just until the last commit.
emails_sent = table("emails_sent", model=Email, write_through=True)
