"""Inventory check: reserve stock for an order, or fail it; release what a FAILED order held.

PASS and reserve when stock - reserved - quantity >= 0, else FAIL and reserve nothing. A product
with no stock record has stock 0, so no order waits for one. A product's record holds the units
reserved, the orders holding some that are not decided yet, and the `orders` offsets it has
applied: each event (CREATED reserves, VALIDATED keeps, FAILED releases) is one write of that
record, and a redelivered event is found applied in it and skipped. Events of one order reach
its product in the order they were on `orders`, so its FAILED comes after its CREATED.

Consumes: warehouse-inventory (absolute stock levels);
          orders-by-product (OrderEvent items: CREATED, VALIDATED, FAILED).
Produces: order-validations (INVENTORY_CHECK items).
Keeps: stock_levels (product -> units), stock_reservations (product -> StockReservations).
"""

from __future__ import annotations

from app import topics
from app.streams import consumes, report_validation
from models.records import CheckType, OrderEvent, OrderState, ValidationResult
from models.state import StockReservations
from tables.inventory import stock_levels, stock_reservations


def check_stock(quantity: int, stock: int, reserved: int) -> ValidationResult:
    if quantity >= 1 and stock - reserved - quantity >= 0:
        return ValidationResult.PASS
    return ValidationResult.FAIL


def apply_order_event(
    reservations: StockReservations | None, event: OrderEvent, stock: int
) -> tuple[StockReservations, ValidationResult | None] | None:
    """The product's reservations after `event`, and the answer to a CREATED order; None if the
    record has applied the event already."""
    reservations = reservations or StockReservations()
    if reservations.applied(event.partition, event.offset):
        return None
    order = event.order
    reserved, held = reservations.reserved, reservations.held
    answer = None
    if order.state == OrderState.CREATED:
        answer = check_stock(order.quantity, stock, reserved)
        if answer == ValidationResult.PASS:
            reserved, held = reserved + order.quantity, {**held, order.id: order.quantity}
    elif order.id in held:
        held = {key: units for key, units in held.items() if key != order.id}
        if order.state == OrderState.FAILED:
            reserved -= reservations.held[order.id]  # compensation: the stock is free again
    updated = reservations.model_copy(update={
        "reserved": reserved, "held": held,
        "applied_up_to": reservations.marks_after(event.partition, event.offset),
    })
    return updated, answer


def parse_stock_level(raw: bytes) -> int:
    level = int(raw)
    if level < 0:
        raise ValueError(f"a stock level cannot be negative: {level}")
    return level


@consumes(topics.warehouse_inventory, parse_stock_level, keyed=True)
async def record_stock_levels(product: str, level: int) -> None:
    stock_levels[product] = level


@consumes(topics.orders_by_product, OrderEvent, batched=True)
async def reserve_stock(event: OrderEvent) -> None:
    product = event.order.product
    applied = apply_order_event(
        stock_reservations.get(product), event, stock_levels.get(product, 0))
    if applied is None:
        return
    stock_reservations[product], answer = applied
    if answer is not None:
        report_validation(event.partition, event.order.id, CheckType.INVENTORY_CHECK, answer)
