"""The table of order timelines, keyed by order id (co-partitioned with `orders`)."""

from __future__ import annotations

from app.framework.store import table
from models.state import OrderTimeline

#: Every event about each order, with its topic, partition, offset and timestamp
#: (agents/timeline.py); served by `GET /v1/orders/{id}/timeline`.
order_timelines = table("order_timelines", model=OrderTimeline)
