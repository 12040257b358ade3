"""Order details check: is a new order well-formed as a business fact?

Consumes: orders (CREATED).
Produces: order-validations (ORDER_DETAILS_CHECK items).
Keeps: nothing (a redelivered order gets the same answer; the aggregator keeps the first).
"""

from __future__ import annotations

from app import topics
from app.framework.streams import consumes, current_partition, report_validation
from models.records import CheckType, Order, OrderState, ValidationResult


def check_order_details(order: Order) -> ValidationResult:
    well_formed = (
        order.quantity >= 1 and order.price > 0 and order.product != "" and order.customer_id >= 1
    )
    return ValidationResult.PASS if well_formed else ValidationResult.FAIL


@consumes(topics.orders, Order.from_bytes)
async def check_details(order: Order) -> None:
    if order.state == OrderState.CREATED:
        report_validation(
            current_partition(), order.id, CheckType.ORDER_DETAILS_CHECK, check_order_details(order))
