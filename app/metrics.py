"""This worker's metrics, served as Prometheus text at `GET /metrics`.

Counters count what this worker processed since it started; Prometheus sums them over workers
and handles the reset when a worker restarts. Consumer lag and table memory are measured when
scraped.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from faust.types import TP
from prometheus_client import (
    CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest,
)

# A `_created` sample beside every counter doubles the output and tells nothing here.
disable_created_metrics()
registry = CollectorRegistry()

order_events = Counter(
    "orders_events", "Order events read from `orders`, by state.", ["state"], registry=registry,
)
validations = Counter(
    "order_validations", "Validation results taken by the aggregator (first per order and check).",
    ["check", "result"], registry=registry,
)
dead_letters = Counter(
    "dead_letters", "Records sent to `<topic>-dead-letters`, by the topic they came from.",
    ["topic"], registry=registry,
)
emails = Counter(
    "emails", "Emails by outcome: smtp (an SMTP server took it), none (recorded only: no "
    "SMTP_HOST), refused (refused for good), no_customer (a paid order of an unknown customer).",
    ["outcome"], registry=registry,
)
conflicting_payments = Counter(
    "payments_conflicting", "Payments on `payments` under an id that already had another one "
    "(written without the API): the first stands, these are not passed on.", registry=registry,
)
email_retries = Counter(
    "email_delivery_retries", "SMTP attempts that failed for a reason worth retrying.",
    registry=registry,
)
view_repairs = Counter(
    "view_repairs", "Keys of a view sent by `rebuild --apply`: `applied`, or `changed` since the "
    "rebuild read them (not applied).", ["view", "outcome"], registry=registry,
)
unrouted_orders = Counter(
    "orders_unrouted", "Order events not routed by level: the customer's level has no topic.",
    ["level"], registry=registry,
)
burst_alerts = Counter(
    "order_burst_alerts",
    "Burst alerts and updates of them (updates before one commit are written as one record).",
    registry=registry,
)
late_burst_orders = Counter(
    "order_burst_late_orders",
    "Orders that came after their burst window's end plus BURST_GRACE_S (not counted in it).",
    registry=registry,
)
event_stream_clients = Gauge(
    "event_stream_clients", "Clients connected to `GET /v1/events` (the dashboard's live feed).",
    registry=registry,
)
event_stream_resyncs = Counter(
    "event_stream_resyncs",
    "Times a client of `/v1/events` fell EVENT_STREAM_QUEUE messages behind: its queue was "
    "dropped and it got a fresh snapshot when it read again.", registry=registry,
)
event_stream_stalled = Counter(
    "event_stream_stalled_clients",
    "Clients of `/v1/events` disconnected because a write waited EVENT_STREAM_WRITE_TIMEOUT_S.",
    registry=registry,
)
consumer_lag = Gauge(
    "consumer_lag", "Records on this worker's assigned partitions not yet committed, by topic.",
    ["topic"], registry=registry,
)

commit_age = Gauge(
    "consumer_commit_age_seconds", "Seconds since this worker's last commit ended: below "
    "about two COMMIT_INTERVAL_S while commits go on; it grows while one hangs (logged after 30 s).",
    registry=registry,
)

table_memory = Gauge(
    "table_memory_bytes", "RocksDB memory in use by this worker's tables, by part: block_cache, "
    "memtables (together at most TABLE_MEMORY_MB).", ["part"], registry=registry,
)

table_pending_writes = Gauge(
    "table_pending_writes", "Table writes not in the changelogs yet: written behind, they are "
    "sent at the next commit (COMMIT_INTERVAL_S).", registry=registry,
)

outcomes_held = Gauge(
    "orders_partitions_held", "`orders` partitions of this worker whose outcomes are held back "
    "until it has committed the partition up to its end at assignment (agents/validations.py).",
    registry=registry,
)


def sample(name: str, **labels: str) -> float:
    """The current value of one sample (e.g. `sample("emails_total", outcome="smtp")`), 0 if none."""
    return registry.get_sample_value(name, labels) or 0.0


def lag_by_topic(
    assigned: Iterable[TP], end_offsets: Mapping[TP, int], committed: Mapping[TP, int | None]
) -> dict[str, int]:
    """Per topic, the sum over assigned partitions of end offset minus committed offset (0 when
    none is known)."""
    lag: dict[str, int] = {}
    for tp in assigned:
        behind = max(end_offsets.get(tp, 0) - (committed.get(tp) or 0), 0)
        lag[tp.topic] = lag.get(tp.topic, 0) + behind
    return lag


def render(lag: Mapping[str, int], table_bytes: Mapping[str, int], pending_writes: int,
           partitions_held: int, seconds_since_commit: float) -> bytes:
    """The Prometheus text exposition, with the consumer lag, table memory, table writes not
    flushed yet, partitions whose outcomes are held and the age of the last commit, just
    measured."""
    consumer_lag.clear()
    for topic, behind in lag.items():
        consumer_lag.labels(topic).set(behind)
    commit_age.set(seconds_since_commit)
    for part, used in table_bytes.items():
        table_memory.labels(part).set(used)
    table_pending_writes.set(pending_writes)
    outcomes_held.set(partitions_held)
    return generate_latest(registry)
