"""Routing by customer level: every order event with a known customer goes, as OrderEnriched, to
the topic named after the customer's level (`platinum`, `gold`, `silver`, `bronze`).

An order of an unknown customer is not routed. A level with no topic is counted and logged, and
the agent goes on.

Consumes: orders (every new event of an order), re-keyed by customer id to orders-by-customer
          (OrderEvent items).
Produces: platinum, gold, silver, bronze (keyed by order id, in the order's partition).
Reads: customer_records (co-partitioned with orders-by-customer).
"""

from __future__ import annotations

import logging

from app import metrics, topics
from app.main import app
from app.framework.streams import consumes
from models.records import Customer, Order, OrderEnriched, OrderEvent
from tables.customers import customer_records

log = logging.getLogger(__name__)


def enrich(order: Order, customer: Customer) -> OrderEnriched:
    return OrderEnriched(id=order.id, customer_id=customer.id, customer_level=customer.level)


@consumes(topics.orders_by_customer, OrderEvent, batched=True)
async def route_by_level(event: OrderEvent) -> None:
    order = event.order
    customer = customer_records.get(str(order.customer_id))
    if customer is None:
        return
    enriched = enrich(order, customer)
    topic = topics.levels.get(enriched.customer_level)
    if topic is None:
        metrics.unrouted_orders.labels(enriched.customer_level).inc()
        log.warning("order %s: customer level %r has no topic", order.id, enriched.customer_level)
        return
    await app.outputs.publish(  # the level topics are co-partitioned with `orders`
        topic, order.id, enriched.to_bytes(), partition=event.partition, timestamp=order.timestamp)
