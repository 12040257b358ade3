"""Inventory check: reserve stock for an order, or fail it; release what a FAILED order held.

PASS and reserve when stock - reserved - quantity >= 0, else FAIL and reserve nothing. A product
with no stock record has stock 0, so no order waits for one. An order is answered once: a
redelivered order gets its first answer again and never reserves twice.

Consumes: warehouse-inventory (absolute stock levels);
          orders (CREATED and FAILED), re-keyed by product to orders-by-product.
Produces: order-validations (INVENTORY_CHECK).
Keeps: stock_levels (product -> units), reserved_stock (product -> units),
       inventory_checks (order id -> InventoryCheck).
"""

from __future__ import annotations

from app import topics
from app.streams import consumes, publish_validation
from models.records import CheckType, Order, OrderState, ValidationResult
from models.state import InventoryCheck
from tables.inventory import inventory_checks, reserved_stock, stock_levels


def check_stock(quantity: int, stock: int, reserved: int) -> ValidationResult:
    if quantity >= 1 and stock - reserved - quantity >= 0:
        return ValidationResult.PASS
    return ValidationResult.FAIL


def reserve(order: Order, stock: int, reserved: int) -> InventoryCheck:
    result = check_stock(order.quantity, stock, reserved)
    held = order.quantity if result == ValidationResult.PASS else 0
    return InventoryCheck(product=order.product, result=result, reserved=held)


def release(check: InventoryCheck | None, product: str) -> InventoryCheck:
    """The check of an order that ended FAILED: nothing held any more.

    An order that FAILED before its inventory check is recorded as failed, so a late CREATED
    of it does not reserve.
    """
    if check is None:
        return InventoryCheck(product=product, result=ValidationResult.FAIL, released=True)
    return check.model_copy(update={"released": True})


def parse_stock_level(raw: bytes) -> int:
    level = int(raw)
    if level < 0:
        raise ValueError(f"a stock level cannot be negative: {level}")
    return level


@consumes(topics.warehouse_inventory, parse_stock_level, keyed=True)
async def record_stock_levels(product: str, level: int) -> None:
    stock_levels[product] = level


@consumes(topics.orders, Order.from_bytes)
async def key_orders_by_product(order: Order) -> None:
    if order.state in (OrderState.CREATED, OrderState.FAILED):
        await topics.orders_by_product.send(
            key=order.product.encode(), value=order.to_bytes(), timestamp=order.timestamp
        )


@consumes(topics.orders_by_product, Order.from_bytes)
async def reserve_stock(order: Order) -> None:
    product = order.product
    stored = inventory_checks.get(order.id)
    check = stored and InventoryCheck.from_bytes(stored)
    held = reserved_stock.get(product, 0)
    if order.state == OrderState.CREATED:
        if check is None:
            check = reserve(order, stock_levels.get(product, 0), held)
            if check.reserved:
                reserved_stock[product] = held + check.reserved
            inventory_checks[order.id] = check.to_bytes()
        await publish_validation(order.id, CheckType.INVENTORY_CHECK, check.result)
    elif check is None or not check.released:  # FAILED: compensate, once
        if check is not None and check.reserved:
            reserved_stock[product] = held - check.reserved
        inventory_checks[order.id] = release(check, product).to_bytes()
