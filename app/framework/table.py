"""The table class of this app (`Table=` in app.main): Faust's table, written behind.

**Write-behind.** Faust sends one changelog record for every `table[key] = value` and writes the
local store at once. Here a write lands in an in-memory overlay of the key's partition, and the
commit barrier (`app/framework/transport.py`) sends one changelog record per key changed since the last
commit, waits until the broker has them all, then writes them to the local store and only then
lets the consumer commit its offsets. So:
- a key written many times between two commits costs one changelog record;
- the local store never holds a value the changelog lacks: after a crash, the store, the
  changelog and the committed offsets agree, and the uncommitted input is processed again;
- every read (`table[key]`, `get`, `in`, iteration) sees the overlay first, so agents and the
  HTTP API see each write at once.

Keys and values that are `str` or `bytes` are stored as they are (Faust would JSON-encode them):
queries are routed to the owner of a key by hashing the changelog key, which must be the same
bytes as the key of the topic that feeds the table, or the router picks the wrong worker.

Readers can wait for a key to change: the long-poll of the query side. Every write wakes the
waiters of that key. A reader checks the value and registers its waiter with no `await` in
between, and the event loop runs one thing at a time, so a write can never slip between the check
and the wait (no lost wake-up). Any number of readers may wait on one key.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import ItemsView, KeysView, ValuesView
from functools import cached_property
from typing import Any, Awaitable, Callable, Iterator, NamedTuple

import faust
import rocksdict
from faust import current_event
from faust.types import TP

from app.partitioning import partition_of
from app.schemas import unframe
from models.records import Record

#: An overlay entry for a deleted key.
DELETED: Any = object()


class ChangelogRecord(NamedTuple):
    """One key's change, as it goes to the changelog partition (value None: deleted)."""

    partition: int
    key: bytes
    value: bytes | None


class Table(faust.Table):
    def __init__(self, *args: Any, model: type[Record] | None = None,
                 write_through: bool = False, **kwargs: Any) -> None:
        if model is not None:
            kwargs["value_type"] = bytes
        super().__init__(*args, **kwargs)
        #: Send each write to the changelog at once rather than at the next commit: for a table
        #: that guards a side effect outside Kafka (an email sent), whose new owner after a crash
        #: must see it.
        self.write_through = write_through
        self._flush_lock: asyncio.Lock | None = None
        self._flush_lock_loop: asyncio.AbstractEventLoop | None = None
        #: Values are this record type: kept decoded in the overlay, JSON in the store and the
        #: changelog (framed with its schema id when the changelog topic has a schema: `emails`),
        #: so a record written many times is encoded once per flush.
        self.model = model
        self._waiters: defaultdict[Any, set[asyncio.Future]] = defaultdict(set)
        #: Writes since the last barrier: partition -> key -> value (or DELETED).
        self._pending: defaultdict[int, dict[Any, Any]] = defaultdict(dict)
        #: Writes the barrier is sending now; read after `_pending`, before the store.
        self._flushing: dict[int, dict[Any, Any]] = {}

    def _serializer_from_type(self, typ: Any) -> Any:
        return "raw" if typ in (str, bytes) else super()._serializer_from_type(typ)

    # Writes ------------------------------------------------------------------------------------

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set_in(_event_partition(), key, value)

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self.set_in(_event_partition(), key, DELETED)

    def active_partitions(self) -> tuple[set[int], int]:
        """The table's partitions this worker owns (not its standbys), and how many it has."""
        changelog = self.changelog_topic
        name = changelog.get_topic_name()
        owned = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == name}
        return owned, changelog.partitions or self.app.conf.topic_partitions

    def owned_items(self) -> Iterator[tuple[Any, Any]]:
        """(key, value) of the keys in this worker's active partitions (not its standbys)."""
        owned, partitions = self.active_partitions()
        for key, value in self.items():
            if partition_of(key, partitions) in owned:
                yield key, value

    def set_in(self, partition: int, key: Any, value: Any) -> None:
        """Write `key` in changelog partition `partition` (the partition of the record that
        caused the write: co-partitioned input). DELETED deletes it."""
        self._pending[partition][key] = value
        if self.write_through:
            self.app.outputs.write_through(self)
        for waiter in self._waiters.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)

    # Reads -------------------------------------------------------------------------------------

    def _overlay(self, key: Any) -> Any:
        """The unflushed value of `key`: a value, DELETED, or None when the store has it."""
        for writes in (*self._pending.values(), *self._flushing.values()):
            if key in writes:
                return writes[key]
        return None

    def __getitem__(self, key: Any) -> Any:
        value = self._overlay(key)
        if value is DELETED:
            return self.__missing__(key)
        if value is not None:
            return value
        return self.decode_value(super().__getitem__(key))

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        value = self._overlay(key)
        if value is not None:
            return value is not DELETED
        return key in self.data

    def __iter__(self) -> Iterator[Any]:
        overlay: dict[Any, Any] = {}
        for writes in (*self._flushing.values(), *self._pending.values()):
            overlay.update(writes)  # pending last: the newest value wins
        for key in self.data:
            if key not in overlay:
                yield key
        yield from (key for key, value in overlay.items() if value is not DELETED)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # Faust's views read the store directly; these go through the overlay.
    def keys(self) -> KeysView:
        return KeysView(self)

    def values(self) -> ValuesView:
        return ValuesView(self)

    def items(self) -> ItemsView:
        return _Items(self)

    # The commit barrier ------------------------------------------------------------------------

    def pending_writes(self) -> int:
        """Keys written since the last flush."""
        return sum(len(writes) for writes in self._pending.values())

    def flush_lock(self) -> asyncio.Lock:
        """One flush of this table at a time (a lock of the running event loop)."""
        loop = asyncio.get_running_loop()
        if self._flush_lock is None or self._flush_lock_loop is not loop:
            self._flush_lock, self._flush_lock_loop = asyncio.Lock(), loop
        return self._flush_lock

    def take_pending(self) -> list[ChangelogRecord]:
        """Start a flush: the writes since the last one, as changelog records (one per key).

        They stay readable until `apply_flushed`; writes from now on go to a new overlay.
        """
        if self._flushing:
            raise RuntimeError(f"table {self.name}: a flush is already under way")
        self._flushing = {p: writes for p, writes in self._pending.items() if writes}
        self._pending = defaultdict(dict)
        records = []
        for partition, writes in self._flushing.items():
            for key, value in writes.items():
                if value is DELETED and key not in self.data:
                    continue  # set and deleted since the last flush: the changelog never had it
                records.append(ChangelogRecord(partition, self._encode_key(key), self._encode_value(value)))
        return records

    def _encode_key(self, key: Any) -> bytes:
        return self.app.serializers.dumps_key(self.key_type, key, serializer=self.key_serializer)

    def _encode_value(self, value: Any) -> bytes | None:
        if value is DELETED:
            return None
        if self.model is not None:
            return self.app.schemas.frame(self._changelog_name, value.to_bytes())
        return self.app.serializers.dumps_value(
            self.value_type, value, serializer=self.value_serializer)

    @cached_property
    def _changelog_name(self) -> str:
        return self.changelog_topic.get_topic_name()

    def decode_value(self, stored: bytes) -> Any:
        """A value as the store and the changelog hold it (framed, for a topic with a schema),
        decoded into the table's model."""
        if self.model is None:
            return stored
        if self._changelog_name in self.app.schemas.topics:
            _, stored = unframe(stored)  # its own records: the id needs no check
        return self.model.from_bytes(stored)

    def apply_flushed(self, records: list[ChangelogRecord], offsets: dict[int, int]) -> None:
        """End a flush whose records the broker has: write them to the local store, with the
        highest changelog offset of each partition (where recovery goes on from)."""
        flushing, self._flushing = self._flushing, {}
        store = self.data
        if not hasattr(store, "_db_for_partition"):  # the memory store (agent tests)
            for writes in flushing.values():
                for key, value in writes.items():
                    if value is DELETED:
                        store.pop(key, None)
                    else:
                        store[key] = self._encode_value(value) if self.model else value
            return
        batches: dict[int, rocksdict.WriteBatch] = {}
        for record in records:
            batch = batches.setdefault(record.partition, rocksdict.WriteBatch(raw_mode=True))
            if record.value is None:
                batch.delete(record.key)
            else:
                batch.put(record.key, record.value)
                store._key_index[record.key] = record.partition
        topic = self.changelog_topic.get_topic_name()
        for partition, batch in batches.items():
            store._db_for_partition(partition).write(batch)
            store.set_persisted_offset(TP(topic, partition), offsets[partition])

    def abandon_flush(self) -> None:
        """A flush failed: its writes go back under the newer ones, to be sent next time."""
        for partition, writes in self._flushing.items():
            self._pending[partition] = {**writes, **self._pending[partition]}
        self._flushing = {}

    # Long-polls --------------------------------------------------------------------------------

    async def wait_for(self, key: Any, ready: Callable[[Any], bool], timeout: float) -> Any:
        """Return the value of `key` once `ready(value)`; raise TimeoutError after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        value = self.get(key)
        while not ready(value):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(key)
            waiter = loop.create_future()
            self._waiters[key].add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                raise TimeoutError(key) from None
            finally:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[key]
            value = self.get(key)
        return value

    def waiting(self, key: Any) -> int:
        """How many readers wait on `key` (for tests and metrics)."""
        return len(self._waiters.get(key, ()))


class _Items(ItemsView):
    """A table's (key, value) pairs in one pass over its store (values read with their keys, not
    looked up one by one), the overlay's newest values in place of the store's."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        table = self._mapping
        overlay: dict[Any, Any] = {}
        for writes in (*table._flushing.values(), *table._pending.values()):
            overlay.update(writes)
        for key, value in table.data.items():
            if key not in overlay:
                yield key, table.decode_value(value)
        yield from ((key, value) for key, value in overlay.items() if value is not DELETED)


def _event_partition() -> int:
    event = current_event()
    if event is None:
        raise RuntimeError("a table is written from an agent, or with set_in(partition, ...)")
    return event.message.partition


async def flush_tables(
    tables: list[Table], send: Callable[..., Any],
    before_sending: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """The commit barrier's table part: take every table's writes since the last flush, await
    `before_sending()` (the barrier waits there for the outputs of those writes), send them to
    their changelogs, wait until the broker has all of them, then write them to the local stores.

    `send(topic, key=, value=, partition=)` is aiokafka's `AIOKafkaProducer.send`. Returns the
    number of records sent. If anything fails, the writes go back into the overlays and the
    error propagates, so no offset is committed past them.
    """
    # One flush of a table at a time (the barrier, a write-through flush); always in name order.
    locks = [table.flush_lock() for table in sorted(tables, key=lambda table: table.name)]
    for lock in locks:
        await lock.acquire()
    try:
        return await _flush(tables, send, before_sending)
    finally:
        for lock in locks:
            lock.release()


async def _flush(
    tables: list[Table], send: Callable[..., Any],
    before_sending: Callable[[], Awaitable[None]] | None,
) -> int:
    taken = [(table, table.take_pending()) for table in tables]
    try:
        if before_sending is not None:
            await before_sending()
        acks = []
        for table, records in taken:
            topic = table.changelog_topic.get_topic_name()
            for record in records:
                acks.append(await send(
                    topic, key=record.key, value=record.value, partition=record.partition))
        metadata = iter(await asyncio.gather(*acks))
    except BaseException:
        for table, _ in taken:
            table.abandon_flush()
        raise
    for table, records in taken:
        offsets: dict[int, int] = {}
        for record in records:
            offsets[record.partition] = max(offsets.get(record.partition, -1), next(metadata).offset)
        table.apply_flushed(records, offsets)
    return len(acks)


def drop_pending(tables: list[Table]) -> None:
    """Forget writes not flushed: their input was not committed and will be processed again
    (by this worker or another) after a rebalance, against the state in the changelog."""
    for table in tables:
        table._pending.clear()
