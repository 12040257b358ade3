"""Tables of the inventory check, keyed by product (co-partitioned with `orders-by-product` and
`warehouse-inventory`)."""

from __future__ import annotations

from models.state import StockReservations
from tables.store import table

#: Absolute stock level per product, from `warehouse-inventory` (latest value wins). Written
#: through: the inventory check reads it beside the `orders-by-product` items, and after a crash
#: the next owner replays those items in whatever order Faust interleaves the two topics, so the
#: level must already be in the changelog, not in the replay.
stock_levels = table("stock_levels", value_type=int, write_through=True)
#: What each product's stock holds for orders, with the `orders` offsets it has applied.
stock_reservations = table("stock_reservations", model=StockReservations)
