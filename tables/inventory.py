"""Tables of the inventory check, keyed by product, except `inventory_checks` (by order id,
but written from the product-keyed stream, so an order's entry sits with its product)."""

from __future__ import annotations

from tables.store import table

#: Absolute stock level per product, from `warehouse-inventory` (latest value wins).
stock_levels = table("stock_levels", value_type=int)
#: Units per product held for orders that passed the inventory check and were not released.
reserved_stock = table("reserved_stock", value_type=int)
#: The InventoryCheck (JSON) of each order: its answer and what it holds.
inventory_checks = table("inventory_checks", value_type=bytes)
