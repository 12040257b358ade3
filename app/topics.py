"""The topics registry: every topic the app reads or writes, on one screen.

Keys are UTF-8 strings (order id, customer id, product), values JSON records (`models.records`)
framed with the id of their schema in the schema registry: a topic declared with `value=` has a
subject `<topic>-value` (app/schemas.py).
Every topic has the same partition count, so topics with the same key are co-partitioned:
- by order id: `order-requests`, `orders`, `order-validations`, `order-deadlines`,
  `payments-by-order`;
- by product: `orders-by-product`, `warehouse-inventory`;
- by customer id: `orders-by-customer`, `customers`, `legacy-customers`,
  `paid-orders-by-customer`.
One worker owns partition p of every topic, so it holds all the state of the keys hashed there.

Internal topics between this app's services (`order-validations`, `orders-by-customer`,
`orders-by-product`, `payments-by-order`, `paid-orders-by-customer`) carry batches: each record
is a JSON array of items, all of one partition, sent to that partition without a key
(app/framework/outputs.py). Every other topic carries one record per event, keyed.
Nobody else calls `app.topic()`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.framework.handle import TopicHandle
from app.kafka_clients import client_options
from app.main import app, settings
from app.replication import Replication, UnderReplicated, plan, refusal, under_replicated
from models.records import (
    CUSTOMER_LEVELS, Customer, Email, Order, OrderBurst, OrderEnriched, OrderEvent, OrderValidation, PaidOrder,
    Payment, PlaceOrder, StockEvent, ViewRepair, WarehouseStock,
)

log = logging.getLogger(__name__)

#: For topics where only the latest value per key matters.
COMPACTED = {"cleanup.policy": "compact"}


def _topic(
    name: str, value: Any = None, *, partitions: int | None = None, config: dict | None = None,
) -> TopicHandle:
    """A topic whose records are `value` (a record type, or `list[...]` for batches): framed
    with its schema's id. Without `value`, values are bytes this app does not describe."""

    def build(built: Any) -> Any:
        full_name = built.settings.topic_prefix + name
        if value is not None:
            built.schemas.add(full_name, value)
        return built.topic(
            full_name,
            key_type=bytes,
            value_type=bytes,
            partitions=partitions or built.settings.topic_partitions,
            config=config,
        )

    return app.make(TopicHandle(name, value), build)


#: Commands to place an order, written by `POST /v1/orders`; the Orders service accepts each
#: order id once and publishes the order on `orders`.
order_requests = _topic("order-requests", PlaceOrder)
#: Order events: CREATED (accepted requests), VALIDATED / FAILED (the validations aggregator).
orders = _topic("orders", Order)
#: Batches of OrderValidation: one item per check and order, from the three validators.
order_validations = _topic("order-validations", list[OrderValidation])
#: Batches of OrderEvent, by customer: the fraud check reads CREATED, routing by level all.
orders_by_customer = _topic("orders-by-customer", list[OrderEvent])
#: Batches of OrderEvent, by product: CREATED reserves stock, VALIDATED keeps it, FAILED releases.
orders_by_product = _topic("orders-by-product", list[OrderEvent | StockEvent])
#: Order ids whose validation deadline has passed, written by the aggregator's timer: the key
#: is the notice, the value is empty (no schema).
order_deadlines = _topic("order-deadlines")
#: Customers by customer id: from the SQL loader and `PUT /v1/customers/{id}`.
customers = _topic("customers", Customer, config=COMPACTED)
#: Rows of the legacy database's `customers` table as Debezium captured them (Kafka Connect,
#: app/connect.py): plain JSON with the table's columns, keyed by customer id, a tombstone for a
#: deleted row; not framed (no schema: the legacy table's shape is not this app's contract).
legacy_customers = _topic("legacy-customers", config=COMPACTED)
#: Absolute stock level per product (an integer), latest value wins.
warehouse_inventory = _topic("warehouse-inventory", WarehouseStock, config=COMPACTED)
#: Payments by payment id, written by `POST /v1/payments`.
payments = _topic("payments", Payment)
#: Batches of Payment, by order id, to meet their order in the email join.
payments_by_order = _topic("payments-by-order", list[Payment])
#: Batches of PaidOrder (the join's matches), by customer id, to meet their customer.
paid_orders_by_customer = _topic("paid-orders-by-customer", list[PaidOrder])
#: One Email per order: what the email service sent, when, to whom. It is the changelog of the
#: email service's `emails_sent` (compacted): keyed by order id, in the partition of the order's
#: customer, where the service keeps it.
emails = _topic("emails", Email, config=COMPACTED)
#: Rebuilt values of a view's keys, keyed by the table key, from `faust -A app rebuild VIEW
#: --apply` to the key's owner (app/rebuild.py, agents/repairs.py).
view_repairs = _topic("view-repairs", ViewRepair)
#: OrderBurst alerts by customer id: more than BURST_MIN_ORDERS orders in a window of event time
#: (agents/bursts.py); a later record for the same window has a higher count.
order_bursts = _topic("order-bursts", OrderBurst)
#: OrderEnriched events by order id, one topic per customer level (`platinum`, ...).
levels = {level: _topic(level, OrderEnriched) for level in CUSTOMER_LEVELS}
#: The SQL customer loader's checkpoint per source database (the last row it published): its
#: own JSON, no schema.
customer_loader_checkpoints = _topic(
    "customer-loader-checkpoints", partitions=1, config=COMPACTED
)


#: Every topic an agent reads.
INPUTS = [
    order_requests, orders, order_validations, orders_by_customer, orders_by_product,
    order_deadlines, customers, legacy_customers, warehouse_inventory, payments,
    payments_by_order, paid_orders_by_customer, view_repairs,
]

#: Each input topic's `<topic>-dead-letters`, by the input's base name: its records that could not be decoded or processed
#: (original key and bytes, as they came; error and source offset in headers).
DEAD_LETTERS = {topic.base_name: _topic(f"{topic.base_name}-dead-letters") for topic in INPUTS}

#: Records of `orders` the JDBC sink could not write to SQL (Kafka Connect's dead-letter queue:
#: the record as it came, the error in headers).
orders_to_sql_dead_letters = _topic("orders-to-sql-dead-letters")

#: Every topic the app owns, created before a worker subscribes.
ALL = [
    *INPUTS, *DEAD_LETTERS.values(), emails, *levels.values(), order_bursts,
    customer_loader_checkpoints, orders_to_sql_dead_letters,
]


async def create_topics(timeout: float = 30.0) -> Replication:
    """Create the app's missing topics with the cluster's replication (app/replication.py) and
    wait until the broker lists them all; returns that replication.

    The app's topics are the registry's, the tables' changelogs and Faust's leader topic: all
    are created here, so Faust finds them made and none is left with its defaults. An existing
    one with fewer replicas than planned raises UnderReplicated, unless
    ALLOW_UNDER_REPLICATED_TOPICS is set (then it is logged).

    Runs before a worker's consumer subscribes: a topic created while the group forms is missed
    by the first assignment and only noticed at the next metadata refresh, minutes later.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        replication = plan(settings, len((await admin.describe_cluster())["brokers"]))
        log.log(logging.WARNING if replication.capped_from else logging.INFO,
                "topics get %s", replication.describe())
        wanted = app_topics()
        existing = wanted.keys() & set(await admin.list_topics())
        short = under_replicated(await _replicas(admin, existing), replication)
        if short and not settings.allow_under_replicated_topics:
            raise UnderReplicated(refusal(short, replication))
        if short:
            log.warning("starting anyway (ALLOW_UNDER_REPLICATED_TOPICS): %s",
                        refusal(short, replication))
        if missing := wanted.keys() - existing:
            await admin.create_topics([
                NewTopic(name, wanted[name][0], replication_factor=replication.factor,
                         topic_configs={**wanted[name][1], **replication.topic_config})
                for name in missing
            ])
        deadline = asyncio.get_running_loop().time() + timeout
        while missing := wanted.keys() - set(await admin.list_topics()):
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"topics not created within {timeout}s: {sorted(missing)}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    # For any topic Faust would still declare itself.
    app.conf.topic_replication_factor = replication.factor
    return replication


def app_topics() -> dict[str, tuple[int, dict[str, str]]]:
    """Every topic the app creates, by name: its partitions and its own config."""
    default = app.conf.topic_partitions
    topics = {topic.get_topic_name(): (topic.partitions, dict(topic.config or {})) for topic in ALL}
    for table in app.tables.values():
        # Compacted, as Faust makes the changelog of a table without windows (this app's kind).
        changelog = table.changelog_topic
        topics[changelog.get_topic_name()] = (
            changelog.partitions or default, {**COMPACTED, **changelog.config})
    topics[app._leader_assignor._leader_topic_name] = (1, {})
    return topics


async def _replicas(admin: AIOKafkaAdminClient, names: set[str]) -> dict[str, int]:
    """The fewest replicas of any partition of each topic."""
    if not names:
        return {}
    return {described["topic"]: min(len(p["replicas"]) for p in described["partitions"])
            for described in await admin.describe_topics(sorted(names))}
