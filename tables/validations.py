"""Tables of the validations aggregator, keyed by order id (co-partitioned with `orders`)."""

from __future__ import annotations

from app.framework.store import table

#: Orders whose outcome has not been seen on `orders` yet -> their deadline (epoch ms). Most
#: orders are decided within one commit, and an entry set and deleted between two commits never
#: reaches the changelog.
open_orders = table("open_orders", value_type=int)
