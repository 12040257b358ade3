"""Tables of the Orders service, keyed by order id (co-partitioned with `orders`)."""

from __future__ import annotations

from tables.store import table

#: The query side: the latest Order (JSON bytes, as on `orders`) per order id.
latest_orders = table("latest_orders", value_type=bytes)

#: Which request placed each order id: the first `PlaceOrder` for an id wins it.
order_placements = table("order_placements", value_type=str)
