"""Tables of the email service, keyed by order id but written from the customer-keyed stream of
matches (`paid-orders-by-customer`), so an order's entry sits with its customer."""

from __future__ import annotations

from app import topics
from app.framework.store import table
from models.records import Email

#: The Email of each order whose email went out (or was recorded), so none goes out twice. Its
#: changelog is the public topic `emails`: the record of an email and the memory that it was
#: sent are one Kafka record, so a crash cannot leave one without the other (a redelivered match
#: then found no memory of an email already on `emails`, and recorded it a second time).
#: Written through: after a crash, the worker that takes the customer over must find the emails
#: sent until milliseconds before it, not just until the last commit.
emails_sent = table("emails_sent", model=Email, write_through=True, changelog=topics.emails)
