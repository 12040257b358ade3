"""Routing by customer level: every order event with a known customer goes, as OrderEnriched, to
the topic named after the customer's level (`platinum`, `gold`, `silver`, `bronze`).

An order of an unknown customer is not routed. A level with no topic is counted and logged, and
the agent goes on.

Consumes: orders (every state), re-keyed by customer id to orders-by-customer.
Produces: platinum, gold, silver, bronze.
Reads: customer_records (co-partitioned with orders-by-customer).
"""

from __future__ import annotations

import logging

from app import metrics, topics
from app.streams import consumes
from models.records import Customer, Order, OrderEnriched
from tables.customers import customer_records

log = logging.getLogger(__name__)

def enrich(order: Order, customer: Customer) -> OrderEnriched:
    return OrderEnriched(id=order.id, customer_id=customer.id, customer_level=customer.level)


@consumes(topics.orders_by_customer, Order.from_bytes)
async def route_by_level(order: Order) -> None:
    stored = customer_records.get(str(order.customer_id))
    if stored is None:
        return
    enriched = enrich(order, Customer.from_bytes(stored))
    topic = topics.levels.get(enriched.customer_level)
    if topic is None:
        metrics.unrouted_orders.labels(enriched.customer_level).inc()
        log.warning("order %s: customer level %r has no topic", order.id, enriched.customer_level)
        return
    await topic.send(key=order.id.encode(), value=enriched.to_bytes(), timestamp=order.timestamp)
