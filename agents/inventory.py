"""Inventory check: reserve stock for an order, or fail it; release what a FAILED order held.

PASS and reserve when stock - reserved - quantity >= 0, else FAIL and reserve nothing. A product
with no stock level has stock 0, so no order waits for one. A product's record holds its stock
level, the units reserved, the orders holding some that are not decided yet, and the offsets it
has applied per source: each event (a stock level; CREATED reserves, VALIDATED keeps, FAILED
releases) is one write of that record, and a redelivered event is found applied in it and
skipped.

Stock levels travel through `orders-by-product` too, in order with the product's orders: after a
crash, the events are applied again in the order they were applied the first time, so every
order gets the answer it got then. (Read from two topics, they would meet in whatever order the
consumer fetched them.) Events of one order reach its product in the order they were on
`orders`, so its FAILED comes after its CREATED.

Consumes: warehouse-inventory (absolute stock levels, forwarded as StockEvent items);
          orders-by-product (StockEvent and OrderEvent items: CREATED, VALIDATED, FAILED).
Produces: orders-by-product (StockEvent items), order-validations (INVENTORY_CHECK items).
Keeps: stock_reservations (product -> StockReservations).
"""

from __future__ import annotations

from app import topics
from app.main import app
from app.framework.streams import consumes, current_source, report_validation
from models.records import CheckType, OrderEvent, OrderState, StockEvent, ValidationResult
from models.state import StockReservations
from tables.inventory import stock_reservations


def check_stock(quantity: int, stock: int, reserved: int) -> ValidationResult:
    if quantity >= 1 and stock - reserved - quantity >= 0:
        return ValidationResult.PASS
    return ValidationResult.FAIL


def apply_product_event(
    reservations: StockReservations | None, event: OrderEvent | StockEvent
) -> tuple[StockReservations, ValidationResult | None] | None:
    """The product's record after `event`, and the answer to a CREATED order; None if the record
    has applied the event already."""
    reservations = reservations or StockReservations()
    if reservations.applied(event.SOURCE, event.partition, event.offset):
        return None
    changes: dict = {"applied_up_to": reservations.marks_after(
        event.SOURCE, event.partition, event.offset)}
    answer = None
    if isinstance(event, StockEvent):
        changes["stock"] = event.stock
    else:
        order, held = event.order, reservations.held
        if order.state == OrderState.CREATED:
            answer = check_stock(order.quantity, reservations.stock, reservations.reserved)
            if answer == ValidationResult.PASS:
                changes["reserved"] = reservations.reserved + order.quantity
                changes["held"] = {**held, order.id: order.quantity}
        elif order.id in held:
            changes["held"] = {key: units for key, units in held.items() if key != order.id}
            if order.state == OrderState.FAILED:  # compensation: the stock is free again
                changes["reserved"] = reservations.reserved - held[order.id]
    return reservations.model_copy(update=changes), answer


def parse_stock_level(raw: bytes) -> int:
    level = int(raw)
    if level < 0:
        raise ValueError(f"a stock level cannot be negative: {level}")
    return level


@consumes(topics.warehouse_inventory, parse_stock_level, keyed=True)
async def forward_stock_levels(product: str, level: int) -> None:
    partition, offset = current_source()  # warehouse-inventory is co-partitioned by product
    event = StockEvent(partition=partition, offset=offset, product=product, stock=level)
    app.outputs.add(topics.orders_by_product, partition, event.to_bytes())


@consumes(topics.orders_by_product, OrderEvent | StockEvent, batched=True)
async def reserve_stock(event: OrderEvent | StockEvent) -> None:
    product = event.product if isinstance(event, StockEvent) else event.order.product
    applied = apply_product_event(stock_reservations.get(product), event)
    if applied is None:
        return
    stock_reservations[product], answer = applied
    if answer is not None:
        report_validation(event.partition, event.order.id, CheckType.INVENTORY_CHECK, answer)
