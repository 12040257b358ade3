"""Tables of the fraud check, keyed by customer id (co-partitioned with `orders-by-customer`),
except `fraud_checks` (by order id, but written from the customer-keyed stream, so an order's
entry sits with its customer)."""

from __future__ import annotations

from tables.store import table

#: The current FraudSession (JSON) of each customer.
fraud_sessions = table("fraud_sessions", value_type=bytes)
#: The result (PASS or FAIL) given to each order, so a redelivered order is not counted again.
fraud_checks = table("fraud_checks", value_type=str)
