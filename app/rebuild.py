"""Views rebuilt from the log: `faust -A app rebuild VIEW [--apply]` and `faust -A app check`.

Each view below is a table whose content follows from a source topic by the rule its service
applies: folding the source's records in offset order, with that rule, gives what the table
should hold. The rebuild reads the source from its beginning (its agents' tables are not read),
reads the live table from its changelog (what every worker restores), and compares the two key
by key.

The changelog is written behind (app/framework/table.py): it trails the source by up to a commit
interval. So a key that differs is read again, both logs on to their new ends, after a commit
interval, up to three times; a key still changing in the last round is reported as such, not as a
difference. On a quiet cluster nothing is changing.

`--apply` sends each differing key's rebuilt value to `view-repairs`, in the key's partition. The
worker that owns the key (agents/repairs.py) writes it only if its table still holds the value the
rebuild read as live: an order that changed the key meanwhile wins, and the key is reported as
not repaired, to be rebuilt again.

The rules (`fold_*`, `differences`) are pure; the rest reads the logs.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from aiokafka import TopicPartition
from pydantic import TypeAdapter

from agents.fraud import count_order
from agents.inventory import apply_product_event
from agents.orders import supersedes
from app import topics
from app.framework.handle import TableHandle, TopicHandle
from app.logs import read_to_end
from app.main import app, settings
from app.partitioning import partition_of
from app.schemas import unframe
from models.records import Customer, Order, OrderEvent, OrderState, Record, StockEvent, ViewRepair
from models.state import FraudSession, OrderRecord, StockReservations
from tables.customers import customer_records
from tables.fraud import fraud_sessions
from tables.inventory import stock_reservations
from tables.orders import order_states

#: Rounds of reading on before a key that differs counts as different.
ROUNDS = 3


# The rules: a view's state after one source item ------------------------------------------------

def fold_order(latest: Order | None, key: str, order: Order) -> Order | None:
    """The query side: an order's latest event, never moved backwards (agents/orders.py)."""
    return order if supersedes(order, latest) else latest


def fold_customer(current: Customer | None, key: str, customer: Customer | None) -> Customer | None:
    """The latest customer of a key; a tombstone deletes it; a record under another customer's
    key is refused (agents/customers.py)."""
    if customer is None:
        return None
    return customer if key == str(customer.id) else current


def fold_product(
    current: StockReservations | None, key: str, event: OrderEvent | StockEvent,
) -> StockReservations | None:
    """A product's stock level and reservations (agents/inventory.py)."""
    applied = apply_product_event(current, event)
    return current if applied is None else applied[0]


def fold_fraud(current: FraudSession | None, key: str, event: OrderEvent) -> FraudSession | None:
    """A customer's fraud session, counting CREATED orders (agents/fraud.py)."""
    if event.order.state != OrderState.CREATED:
        return current
    counted = count_order(current, event, limit_cents=settings.fraud_limit * 100,
                          gap_ms=settings.fraud_session_gap_s * 1000)
    return current if counted is None else counted[0]


@dataclass(frozen=True)
class View:
    name: str
    table: TableHandle
    source: TopicHandle
    #: What the table holds per key, as the view answers it.
    part_type: type[Record]
    #: A source record's payload (None: a tombstone) -> its items.
    items: Callable[[bytes | None], list[Any]]
    #: The table key an item changes (given the record's key).
    key_of: Callable[[str, Any], str]
    fold: Callable[[Any, str, Any], Any]
    #: A live table value -> the view's part of it (None: the view has nothing for the key).
    part: Callable[[Any], Record | None] = lambda value: value
    #: A live table value (or None) with the view's part replaced (None: delete the key).
    put_back: Callable[[Any, Record | None], Any] = lambda value, part: part


def _records(record_type: type[Record], tombstones: bool = False) -> Callable[[bytes | None], list]:
    def parse(payload: bytes | None) -> list:
        if payload is None:
            if tombstones:
                return [None]
            raise ValueError("no value")
        return [record_type.from_bytes(payload)]
    return parse


def _batches(item_type: Any) -> Callable[[bytes | None], list]:
    batch = TypeAdapter(list[item_type])
    return lambda payload: batch.validate_json(payload)


def _with_latest(record: OrderRecord | None, latest: Order | None) -> OrderRecord:
    return (record or OrderRecord()).model_copy(update={"latest": latest})


#: Every view that has a source of truth on the log, by the name the commands take.
VIEWS = {view.name: view for view in (
    View("orders", order_states, topics.orders, Order, _records(Order),
         lambda key, order: order.id, fold_order,
         part=lambda record: record.latest, put_back=_with_latest),
    View("customers", customer_records, topics.customers, Customer,
         _records(Customer, tombstones=True), lambda key, customer: key, fold_customer),
    View("stock", stock_reservations, topics.orders_by_product, StockReservations,
         _batches(OrderEvent | StockEvent),
         lambda key, event: event.product if isinstance(event, StockEvent) else event.order.product,
         fold_product),
    View("fraud", fraud_sessions, topics.orders_by_customer, FraudSession,
         _batches(OrderEvent), lambda key, event: str(event.order.customer_id), fold_fraud),
)}


def canonical(part: Record | None) -> bytes | None:
    return None if part is None else part.to_bytes()


def differences(rebuilt: dict[str, bytes | None], live: dict[str, bytes | None],
                keys: Any = None) -> dict[str, tuple[bytes | None, bytes | None]]:
    """Key -> (live, rebuilt) for the `keys` (default: all) whose canonical parts differ."""
    keys = rebuilt.keys() | live.keys() if keys is None else keys
    return {key: (live.get(key), rebuilt.get(key)) for key in keys
            if live.get(key) != rebuilt.get(key)}


# Reading the logs -------------------------------------------------------------------------------

@dataclass
class Rebuild:
    """One view rebuilt from its source, beside the live view read from its changelog; both
    read on from where they stopped by `read_on()`."""

    view: View
    #: Key -> the rebuilt state.
    state: dict[str, Any] = field(default_factory=dict)
    #: Key -> the live part, canonical.
    live: dict[str, bytes | None] = field(default_factory=dict)
    #: Source records that do not decode (the agents dead-lettered them).
    skipped: int = 0
    source_records: int = 0
    _at: dict[TopicPartition, int] = field(default_factory=dict)

    async def read_on(self, progress: bool = False) -> set[str]:
        """Read the source and the changelog on to their ends; the keys either changed."""
        touched = await self._read(self.view.source.get_topic_name(), self._fold, progress)
        table = self.view.table
        return touched | await self._read(
            table.changelog_topic.get_topic_name(), self._record_live, progress)

    async def _read(self, topic: str, apply: Callable[[Any], set[str]], progress: bool) -> set[str]:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        touched: set[str] = set()
        async for records in read_to_end(settings, partitions, start=self._at,
                                         what=topic if progress else ""):
            for record in records:
                touched |= apply(record)
                tp = TopicPartition(record.topic, record.partition)
                self._at[tp] = record.offset + 1
        return touched

    def _fold(self, record: Any) -> set[str]:
        self.source_records += 1
        key = (record.key or b"").decode(errors="replace")
        try:
            payload = record.value
            if payload is not None and self.view.source.value_type is not None:
                payload = unframe(payload)[1]
            items = self.view.items(payload)
        except ValueError:
            self.skipped += 1
            return set()
        touched = set()
        for item in items:
            item_key = self.view.key_of(key, item)
            self.state[item_key] = self.view.fold(self.state.get(item_key), item_key, item)
            touched.add(item_key)
        return touched

    def _record_live(self, record: Any) -> set[str]:
        key = record.key.decode()
        table = self.view.table
        value = None if record.value is None else table.decode_value(record.value)
        self.live[key] = canonical(None if value is None else self.view.part(value))
        return {key}

    def differences(self, keys: Any = None) -> dict[str, tuple[bytes | None, bytes | None]]:
        """The differing keys among `keys` (default: all); only those states are encoded."""
        keys = self.state.keys() | self.live.keys() if keys is None else keys
        rebuilt = {key: canonical(self.state[key]) for key in keys if key in self.state}
        return differences(rebuilt, self.live, keys)


@dataclass
class Comparison:
    rebuild: Rebuild
    #: Key -> (live, rebuilt), canonical, for keys that differ and were not changing.
    different: dict[str, tuple[bytes | None, bytes | None]]
    #: Keys that differ but changed in the last round (in flight, not compared).
    changing: set[str]


async def compare(view: View, progress: bool = False, rounds: int = ROUNDS) -> Comparison:
    """Rebuild `view` and compare it with the live one, reading on while keys differ."""
    rebuild = Rebuild(view)
    await rebuild.read_on(progress)
    different, touched = rebuild.differences(), set()
    for _ in range(rounds - 1):
        if not different:
            break
        await asyncio.sleep(settle_seconds())
        touched = await rebuild.read_on()
        different = rebuild.differences(different.keys())
    changing = touched & different.keys()
    return Comparison(rebuild, {k: v for k, v in different.items() if k not in changing}, changing)


def settle_seconds() -> float:
    """Long enough for the workers to commit what they have applied (the changelog's lag)."""
    return settings.commit_interval_s + 1.0


async def send_repairs(comparison: Comparison) -> Comparison:
    """Send the rebuilt value of every differing key to its owner, then compare those keys again."""
    view = comparison.rebuild.view
    await app.maybe_start_producer()
    sent = []
    for key, (live, rebuilt) in comparison.different.items():
        repair = ViewRepair(view=view.name, expected=_json(live), value=_json(rebuilt))
        sent.append(await app.outputs.send(
            topics.view_repairs, key, repair.to_bytes(),
            partition=partition_of(key, settings.topic_partitions)))
    await asyncio.gather(*sent)
    await asyncio.sleep(settle_seconds())
    rebuild = comparison.rebuild
    touched = await rebuild.read_on()
    left = rebuild.differences(comparison.different.keys())
    changing = touched & left.keys()
    return Comparison(rebuild, {k: v for k, v in left.items() if k not in changing}, changing)


def _json(part: bytes | None) -> dict | None:
    return None if part is None else json.loads(part)


# What the commands print ------------------------------------------------------------------------

def report(comparison: Comparison, show: int) -> list[str]:
    rebuild, view = comparison.rebuild, comparison.rebuild.view
    lines = [
        f"view {view.name}: table {view.table.name}, rebuilt from "
        f"{view.source.get_topic_name()} ({rebuild.source_records:,} records"
        + (f", {rebuild.skipped:,} that do not decode skipped" if rebuild.skipped else "")
        + f"): {keys(sum(1 for s in rebuild.state.values() if s is not None))}; live: "
        f"{keys(sum(1 for p in rebuild.live.values() if p is not None))}",
        f"differences: {len(comparison.different):,}"
        + (f" (and {keys(len(comparison.changing))} changing, not compared)"
           if comparison.changing else ""),
    ]
    for key, (live, rebuilt) in sorted(comparison.different.items())[:show]:
        lines.append(f"  {key}")
        lines.append(f"    live:    {_text(live)}")
        lines.append(f"    rebuilt: {_text(rebuilt)}")
    if len(comparison.different) > show:
        lines.append(f"  ... and {len(comparison.different) - show:,} more")
    return lines


def keys(count: int) -> str:
    return f"{count:,} key" if count == 1 else f"{count:,} keys"


def _text(part: bytes | None) -> str:
    return "(none)" if part is None else part.decode()
