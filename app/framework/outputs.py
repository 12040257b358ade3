"""What agents send: records of public topics one per event, items of internal topics batched.

Faust's `topic.send` costs ~150-300 µs a record on this project's machine, most of it Faust's own
bookkeeping and an event-loop round trip per send (`../shared/PERF-NOTES.md`). Agents send
through `Outputs` instead, straight to aiokafka's producer and to an explicit partition (no
Python murmur2 per record where the partition is known):
- `publish`: one record now, for public topics (`orders`, the level topics, `emails`), whose
  readers expect one record per event; `send` the same for the HTTP API, which waits for it;
  `publish_latest`: a record that a later one may replace before the commit (a burst's count),
  sent by the commit's `drain`.
- `add`: one item for an internal topic's partition. Items wait up to BATCH_LINGER_MS (or until
  BATCH_MAX_ITEMS) and travel together as one record, a JSON array (`encode_batch`), so a hop
  costs the consumer one record per batch instead of one per order. (Sending a batch whenever no
  reader had input waiting sent batches of one item: Faust hands a reader one record at a time,
  so its queue is nearly always empty while the backlog waits in the consumer's fetches.)

Records and batches are framed with their topic's schema id here (app/schemas.py); a table's
changelog records come framed from the table.

Nothing is acknowledged on the spot: `drain`, called by the commit barrier (`app/framework/transport.py`),
sends what is batched and waits for every acknowledgement before offsets are committed, and
raises if any send failed, so no offset is committed past a lost record.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Hashable

from faust import TopicT

from models.records import encode_batch
from app.framework.table import flush_tables

log = logging.getLogger(__name__)


class Outputs:
    def __init__(self, app: Any, linger_ms: int, max_items: int) -> None:
        self._app = app
        self.linger_s = linger_ms / 1000
        self.max_items = max_items
        #: (topic name, partition) -> items waiting to be sent as one record, in order.
        self._batches: dict[tuple[str, int], list[bytes]] = {}
        #: Acknowledgements and flushes the next `drain` waits for.
        self._unfinished: set[asyncio.Future] = set()
        self._failure: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Write-through tables with a flush scheduled.
        self._write_through: set[Any] = set()
        #: (topic name, what it replaces) -> the record `drain` sends: the latest queued only.
        self._latest: dict[tuple[str, Hashable], tuple[TopicT, str, bytes, int | None, float | None]] = {}
        # One flush at a time: two interleaved would reorder one partition's batches.
        self._lock: asyncio.Lock | None = None

    async def publish(
        self, topic: TopicT, key: str, value: bytes | None, *, partition: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Send one record (timestamp in epoch seconds; a None value is a tombstone) for an
        agent; acknowledged by the next `drain`, which raises if it failed.

        Tracked from the call on, not from when the producer takes the record: a `drain` that
        begins while this waits for room in the producer's buffer waits for it too (the barrier
        flushes the table writes its caller made before it).
        """
        acknowledged = asyncio.get_running_loop().create_future()
        self._track(acknowledged)
        try:
            ack = await self.send(topic, key, value, partition=partition, timestamp=timestamp)
        except asyncio.CancelledError:
            acknowledged.cancel()
            raise
        except BaseException as exc:
            acknowledged.set_exception(exc)
            raise
        ack.add_done_callback(lambda done: _copy_outcome(done, acknowledged))

    async def send(
        self, topic: TopicT, key: str, value: bytes | None, *, partition: int | None = None,
        timestamp: float | None = None,
    ) -> asyncio.Future:
        """Send one record; the caller waits for its acknowledgement (the HTTP API, which answers
        a failure to its client: it is not the commit's business)."""
        timestamp_ms = None if timestamp is None else int(timestamp * 1000)
        name = topic.get_topic_name()
        framed = None if value is None else self._app.schemas.frame(name, value)
        return await self._send(name, key.encode(), framed, partition, timestamp_ms)

    def publish_latest(
        self, topic: TopicT, key: str, value: bytes, *, replaces: Hashable,
        partition: int | None = None, timestamp: float | None = None,
    ) -> None:
        """Queue one record for the next `drain` (the commit), which sends only the latest of
        those queued with the same `replaces`: a value that changes often (a count) costs a
        record per commit, not one per change."""
        self._latest[(topic.get_topic_name(), replaces)] = (topic, key, value, partition, timestamp)

    def add(self, topic: TopicT, partition: int, item: bytes) -> None:
        """Queue one item for `partition` of an internal topic."""
        batch = self._batches.setdefault((topic.get_topic_name(), partition), [])
        batch.append(item)
        if len(batch) >= self.max_items:
            self._flush_soon(0.0)
        elif self._timer is None:
            self._flush_soon(self.linger_s)

    async def flush(self) -> None:
        """Send every waiting batch now."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            batches, self._batches = self._batches, {}
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for (topic, partition), items in batches.items():
                batch = self._app.schemas.frame(topic, encode_batch(items))
                self._track(await self._send(topic, None, batch, partition, None))

    async def drain(self) -> None:
        """Send the records of `publish_latest` and every waiting batch, and wait until the broker
        acknowledged every record sent so far (not those sent meanwhile: under load there always
        are some); raise the first failure (once)."""
        latest, self._latest = self._latest, {}
        for topic, key, value, partition, timestamp in latest.values():
            await self.publish(topic, key, value, partition=partition, timestamp=timestamp)
        await self.flush()
        if self._unfinished:
            await asyncio.wait(list(self._unfinished))
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def send_changelog(
        self, topic: str, *, key: bytes, value: bytes | None, partition: int
    ) -> asyncio.Future:
        """Send a table's changelog record (the barrier and write-through tables wait for it)."""
        return await self._send(topic, key, value, partition, None)

    def write_through(self, table: Any) -> None:
        """Flush `table` as soon as the event loop is free: a write-through table's writes reach
        the changelog within milliseconds instead of at the next commit."""
        if table not in self._write_through:
            self._write_through.add(table)
            asyncio.get_running_loop().call_soon(self._start_write_through, table)

    def _start_write_through(self, table: Any) -> None:
        self._write_through.discard(table)
        self._track(asyncio.ensure_future(flush_tables([table], self.send_changelog)))

    async def _send(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None,
        timestamp_ms: int | None,
    ) -> asyncio.Future:
        producer = self._app.producer._ensure_producer()  # Faust's aiokafka producer
        return await producer.send(
            topic, value=value, key=key, partition=partition, timestamp_ms=timestamp_ms)

    def _track(self, future: asyncio.Future) -> None:
        """Have the next `drain` wait for `future` (an acknowledgement or a flush) and raise its
        failure."""
        self._unfinished.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: asyncio.Future) -> None:
        self._unfinished.discard(future)
        if not future.cancelled() and future.exception() is not None and self._failure is None:
            log.error("a record, a batch or a table's changes were not written: %r",
                      future.exception())
            self._failure = future.exception()

    def _flush_soon(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        self._track(asyncio.ensure_future(self.flush()))


def _copy_outcome(source: asyncio.Future, target: asyncio.Future) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())
