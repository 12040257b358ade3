"""Tables of the fraud check, keyed by customer id (co-partitioned with `orders-by-customer`)."""

from __future__ import annotations

from models.state import FraudSession
from app.framework.store import table

#: The current FraudSession of each customer, with the `orders` offsets it has counted.
fraud_sessions = table("fraud_sessions", model=FraudSession)
