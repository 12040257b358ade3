"""Tables of the order-burst query, keyed by customer id (co-partitioned with
`orders-by-customer`)."""

from __future__ import annotations

from app.framework.store import table
from models.state import CustomerBursts

#: Each customer's open windows and recent alerts, with the `orders` offsets counted.
order_bursts = table("order_bursts", model=CustomerBursts)
