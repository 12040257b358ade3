"""Tables of the validations aggregator, keyed by order id (co-partitioned with `orders`)."""

from __future__ import annotations

from tables.store import table

#: The ValidationProgress (JSON) of each order: results so far and the outcome, kept so that
#: duplicates of anything change nothing.
validation_progress = table("validation_progress", value_type=bytes)
#: Orders whose outcome has not been seen on `orders` yet -> their deadline (epoch ms).
open_orders = table("open_orders", value_type=int)
