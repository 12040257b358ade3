"""Tables of the inventory check, keyed by product (co-partitioned with `orders-by-product` and
`warehouse-inventory`)."""

from __future__ import annotations

from models.state import StockReservations
from tables.store import table

#: Absolute stock level per product, from `warehouse-inventory` (latest value wins).
stock_levels = table("stock_levels", value_type=int)
#: What each product's stock holds for orders, with the `orders` offsets it has applied.
stock_reservations = table("stock_reservations", model=StockReservations)
