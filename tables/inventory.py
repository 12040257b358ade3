"""Tables of the inventory check, keyed by product (co-partitioned with `orders-by-product` and
`warehouse-inventory`)."""

from __future__ import annotations

from models.state import StockReservations
from app.framework.store import table

#: Each product's stock level and what it holds for orders, with the offsets it has applied.
stock_reservations = table("stock_reservations", model=StockReservations)
