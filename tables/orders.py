"""Tables of the order-keyed services (orders, validations aggregator, email join), keyed by order
id (co-partitioned with `orders`)."""

from __future__ import annotations

from models.state import OrderRecord
from app.framework.store import table

#: Everything the order-keyed services know of each order: who placed it, its latest event (the
#: query side), its validation results and outcome, its email join.
order_states = table("order_states", model=OrderRecord)
