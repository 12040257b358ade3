"""The Kafka transport of the app: Faust's aiokafka driver, with fetches batched, the commit
barrier of the write-behind tables, subscribed topics awaited in the metadata, and the holes in
how Faust and aiokafka hand records over and commit them around a rebalance closed.

**The commit barrier.** Tables are written behind (`app/framework/table.py`). Before the consumer commits
offsets, the barrier takes each table's writes since the last commit, sends what the agents
batched (app/framework/outputs.py), waits until the broker has every record the agents sent, then sends
the writes it took to the changelogs and waits until the broker has them too, then writes them to
the local stores; only then are offsets committed. So a committed offset always has its outputs
and its state changes on the broker, and a table's changelog never runs ahead of the outputs of
the writes it holds: agents go on writing while the barrier waits, and a write taken after the
drain began could belong to an output still batched, which a crash would lose while the
changelog said it was done (a redelivered order would then not be passed on again). Faust's own flush before a commit could return with records still buffered (it
gives up after 0.1 s without progress); this one waits for every acknowledgement.
At a rebalance Faust commits nothing for the revoked partitions (it forgets their acknowledged
offsets first): here the barrier and a commit run before that, and the writes of records still
in flight then belong to input that will be processed again: they are dropped, and the new owner
starts from the changelog.

**Changelog records.** Each fetch's records of changelog partitions are taken out before
anything looks at them one by one and written to the tables' stores a partition's batch at a
time (app/framework/recovery.py): they never reach the streams or the drain loop below.

**Topics missing from the metadata.** A worker subscribes right after it creates the changelog
topics of a new app. aiokafka's metadata can still lack a topic created a moment before (the broker
had not published it yet), and aiokafka asks again only every 5 minutes (`metadata_max_age_ms`):
until then the group leader's assignments leave that topic out ("Ignoring missing topic"), and
its table has no owner: nothing recovers it, and no deadline of `open_orders` was ever announced
(the write-behind crash test, once in a few runs on a loaded machine). So after subscribing, the
consumer asks for metadata until every subscribed topic is in it; aiokafka then sees the new
partitions and rebalances on its own.

**Idempotent producer.** Every record the worker sends (outputs, changelogs) goes with
`acks=all` and idempotence: on a replicated cluster it is on `min.insync.replicas` brokers
before it counts as sent, and a retried batch is not written twice.

**Batched fetches.** Faust's consumer asks the broker to answer a fetch as soon as one byte is
there. Under a steady, moderate load each answer then carries a record or two, and the worker
spends its time sending fetch requests for every one of its ~50 partitions and decoding their
answers. Asking for CONSUMER_FETCH_MIN_BYTES, or whatever is there after
CONSUMER_FETCH_MAX_WAIT_MS, took a worker at 50 orders/s over HTTP from 90% of a core to 63%, and
POST p99 at 100 orders/s from 136 ms to 102 ms (BENCHMARKS.md). A record waits at most the wait,
per hop, before the worker sees it; an idle worker fetches every 10 ms instead of every 1.5 s
(about 7% of a core instead of 3%).

**Records skipped after a rebalance.** While it recovers tables, Faust keeps a set of the
partitions it wants records of, and drops without a trace any fetched record of a partition not
in that set. aiokafka's position has moved past such records all the same. Two things let that
lose records for good:
- The consumer thread fetches for Faust's live set while Faust's thread empties and refills it,
  and aiokafka hands out the records of *every* assigned partition when asked for an empty set.
  So paused partitions' records were fetched, then dropped.
- Before it resumes its streams, Faust seeks them back to their committed offsets to fetch such
  records again, but aiokafka's `seek_to_committed` leaves a partition with no commit where it is.
  A partition whose records no worker had committed yet (a killed worker's newest orders) was
  then read on from past them: its new owner never processed them, and the query side kept an
  order CREATED whose VALIDATED event was on `orders` (the three-worker kill test).
So fetches ask for a copy of the set, and none when it is empty; and seeking to the committed
offsets puts a stream partition with no commit at its beginning, where
`consumer_auto_offset_reset="earliest"` starts a partition anyway.

**Commits past a record never handled.** Kafka's committed offset is the next record to handle;
Faust 0.15.3 reads it as the last one handled. So when the record at the committed offset had not
been handled but the ones after it had, Faust committed past it: a payment was never joined
with its order, and no email went out (the crash test, once in ten runs). A record can go
unhandled that way because Faust gives up a delivery that waits for room in a stream when a
rebalance begins, and goes on handing out the rest of the fetched batch. Here:
- a commit moves only over offsets handled, or absent from the log (compacted away, transaction
  markers: the offsets a fetch skipped), from the committed offset on (`commit_end`); a partition
  not yet sought to its commit in this generation commits nothing, and hands out nothing;
- a delivery cut by a rebalance ends the batch, and the record is read again after the seek;
  so does a seek: what was fetched before it is read again after it;
- the seek records a partition with no commit at its beginning, so its first record counts too;
- the seek looks every position up first and then seeks all partitions in one step. aiokafka's
  own seeks one partition after another, with a request between two; a fetch in between
  brought a record the app then dropped as fetched before the seek, and the partition was read
  on past it (a paid order without an email, the write-behind crash test once in ten runs).
The drain loop that hands records over is the app's own for that, and costs no task per record
(Faust's made four).

**A commit that hangs.** Faust says so only after 300 s, and a worker whose commits stop goes on
processing: nothing looks wrong but the lag. Here `/metrics` has the seconds since a commit last
ended (`consumer_commit_age_seconds`), and a commit under way for COMMIT_STALL_WARN_S is logged
with the chain of awaits it is suspended in. Commits that go on but cannot move a partition (the
record at its committed offset not handled for as long, while later ones were) are logged too.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from functools import cached_property
from pathlib import Path
from time import monotonic
from typing import Any, Container, Collection, Iterable, Mapping, Optional, Set

import aiokafka
from aiokafka import TopicPartition
from faust.transport.consumer import CONSUMER_FETCHING, RecordMap, ensure_TP
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from intervaltree import IntervalTree
from mode import Service

from app.settings import Settings
from app.framework.table import Table, drop_pending, flush_tables


log = logging.getLogger(__name__)

#: How long a worker waits for its subscribed topics to appear in the metadata before it says so.
TOPICS_IN_METADATA_TIMEOUT_S = 60.0
#: A commit under way this long is logged with where it waits (again every as long).
COMMIT_STALL_WARN_S = 30.0


def await_chain(awaitable: Any) -> list[str]:
    """Where a suspended coroutine waits: each coroutine of its chain of awaits, outermost first,
    as `function (file:line)`; the last entry is what the innermost one awaits, when it is not a
    coroutine itself."""
    chain = []
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None) \
            or getattr(awaitable, "gi_frame", None)
        if frame is None:
            chain.append(repr(awaitable)[:200])
            break
        code = frame.f_code
        chain.append(f"{code.co_name} ({Path(code.co_filename).name}:{frame.f_lineno})")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "ag_await", None) \
            or getattr(awaitable, "gi_yieldfrom", None)
    return chain


def batch_fetches(consumer: aiokafka.AIOKafkaConsumer, settings: Settings) -> None:
    """Set the fetch batching of a consumer that has not started (its fetcher reads these)."""
    consumer._fetch_min_bytes = settings.consumer_fetch_min_bytes
    consumer._fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms


async def seek_to_committed_or_beginning(
    consumer: aiokafka.AIOKafkaConsumer, changelog_topics: Collection[str]
) -> dict[TopicPartition, Optional[int]]:
    """Seek every assigned partition to its committed offset, and a stream partition without
    one to its beginning; returns each partition's position after the seek (None for a
    changelog partition).

    Changelog partitions have no commits: Faust's recovery positions them itself. Every position
    is looked up first (one request; aiokafka's `seek_to_committed` asks once per partition and
    seeks as it goes), then all partitions are sought in one step: a fetch between two seeks
    moved a partition past a record that Faust's side then dropped as fetched before its seek.
    """
    assigned = list(consumer.assignment())
    commits = await consumer._coordinator.fetch_committed_offsets(assigned)
    positions: dict[TopicPartition, Optional[int]] = {}
    for tp in assigned:
        offset = commits[tp].offset if tp in commits else -1
        positions[tp] = offset if offset > 0 else None
    uncommitted = [
        tp for tp, offset in positions.items() if offset is None and tp.topic not in changelog_topics
    ]
    if uncommitted:
        positions.update(await consumer.beginning_offsets(uncommitted))
    for tp, position in positions.items():  # no await in between: no fetch lands mid-seek
        if position is not None:
            consumer.seek(tp, position)
    return positions


def commit_end(committed: int, handled: Container[int], absent: IntervalTree) -> int:
    """Where a partition's commit can move from `committed`: the first offset neither handled
    nor in an `absent` span (offsets the log skipped). `committed` itself if it is neither."""
    end = committed
    while True:
        if end in handled:
            end += 1
            continue
        spans = absent.at(end)
        if not spans:
            return end
        end = max(span.end for span in spans)


async def wait_for_topics_in_metadata(
    consumer: aiokafka.AIOKafkaConsumer, topics: Collection[str],
    timeout_s: float = TOPICS_IN_METADATA_TIMEOUT_S, retry_s: float = 0.2,
) -> list[str]:
    """Update the consumer's metadata until it has partitions for every topic in `topics`;
    returns the topics still missing after `timeout_s` (logged as an error)."""
    client = consumer._client  # aiokafka has no public way to force a metadata update
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        missing = sorted(topic for topic in topics if not client.cluster.partitions_for_topic(topic))
        if not missing:
            return []
        if loop.time() >= deadline:
            log.error("topics still not in the cluster's metadata after %.0f s: %s "
                      "(their partitions are assigned to no worker)", timeout_s, missing)
            return missing
        await client.force_metadata_update()
        await asyncio.sleep(retry_s)


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        batch_fetches(consumer, self.app.settings)  # Faust passes neither setting through
        return consumer

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: Optional[Set[TP]],
        timeout: Optional[float] = None,
        max_records: Optional[int] = None,
    ) -> RecordMap:
        if active_partitions is not None:  # None: a client-only app, which reads everything
            active_partitions = frozenset(active_partitions)
            if not active_partitions:
                return {}  # aiokafka would hand out every partition's records
        return await super()._fetch_records(consumer, active_partitions, timeout, max_records)

    async def subscribe(self, topics: Iterable[str]) -> None:
        topics = set(topics)
        await super().subscribe(topics)
        await self.call_thread(wait_for_topics_in_metadata, self._ensure_consumer(), topics)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return await self.call_thread(
            seek_to_committed_or_beginning,
            self._ensure_consumer(),
            self.app.tables.changelog_topics,
        )


class Consumer(faust_aiokafka.Consumer):
    #: The drain task while it hands a record to the streams (`stop_flow` cancels it there).
    _delivering: Optional[asyncio.Task] = None
    _delivery_cancelled = False
    #: Seeks so far: a fetched batch handed out across a seek is given up (read again after it).
    _seeks = 0
    #: The task of the commit under way and when it began; when the last one ended (monotonic).
    _committing: Optional[asyncio.Task] = None
    _commit_began = 0.0
    _commit_ended: Optional[float] = None
    _stall_logged_at = 0.0

    async def on_start(self) -> None:
        await super().on_start()
        self._commit_ended = monotonic()

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        # One at a time: Faust's `commit` lets a second caller wait for the first.
        self._committing, self._commit_began = asyncio.current_task(), monotonic()
        try:
            return await super().force_commit(topics, start_new_transaction)
        finally:
            self._committing, self._commit_ended = None, monotonic()

    def committed_offsets(self) -> Mapping[TP, Optional[int]]:
        """Each partition's committed offset as this worker knows it (the next record to handle;
        None before its seek): from the seek at assignment on, not only from its own commits as
        Faust's monitor, which forgets them at every rebalance."""
        return self._committed_offset

    def commit_age(self) -> float:
        """Seconds since a commit last ended (found something to commit or not), or since the
        consumer started: below about two COMMIT_INTERVAL_S while commits go on (Faust's first
        comes two intervals after the start); it grows while one hangs or none runs."""
        return monotonic() - (self._commit_ended or monotonic())

    def commit_stall(self) -> Optional[tuple[float, list[str]]]:
        """The commit under way: for how long (s), and the chain of awaits it waits in."""
        task = self._committing
        if task is None or task.done():
            return None
        return monotonic() - self._commit_began, await_chain(task.get_coro())

    @Service.timer(5.0)
    async def _watch_commits(self) -> None:
        self.report_commit_stall()

    def report_commit_stall(self) -> None:
        """Log the commit under way if it has taken COMMIT_STALL_WARN_S (once per as long)."""
        stall = self.commit_stall()
        if stall is None or stall[0] < COMMIT_STALL_WARN_S:
            return
        if monotonic() - self._stall_logged_at >= COMMIT_STALL_WARN_S:
            self._stall_logged_at = monotonic()
            log.warning("a commit has been under way for %.0f s; it waits in %s",
                        stall[0], " -> ".join(stall[1]))

    async def _wait_next_records(self, timeout: float) -> tuple[Optional[RecordMap], Optional[Set[TP]]]:
        records, active_partitions = await super()._wait_next_records(timeout)
        if records:  # changelog records go to the stores a batch at a time, never one by one
            changelogs = self._changelog_topics
            fetched = {tp: records.pop(tp) for tp in [tp for tp in records if tp.topic in changelogs]}
            if fetched:
                self.app.tables.recovery.restore_fetched(fetched)
        return records, active_partitions

    @cached_property
    def _changelog_topics(self) -> frozenset[str]:
        # Faust builds this set anew at each call; every table is declared before the first
        # fetch (app.main.create_app), so once is enough.
        return frozenset(self.app.tables.changelog_topics)

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _tables(self) -> list[Table]:
        return [table for table in self.app.tables.values() if isinstance(table, Table)]

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        tables, send = self._tables(), self.app.outputs.send_changelog
        # The writes are taken before the outputs are drained, so each write flushed has its
        # outputs on the broker first. Write-through tables flush on their own meanwhile (the
        # drain waits for those flushes), so they are flushed after it.
        await flush_tables([t for t in tables if not t.write_through], send, self._outputs_durable)
        await flush_tables([t for t in tables if t.write_through], send)
        return await super()._commit_offsets(offsets, start_new_transaction)

    async def _outputs_durable(self) -> None:
        await self.app.outputs.drain()  # the agents' outputs
        await self.app.producer.flush()  # what went through Faust (dead letters, deadline notices)

    async def perform_seek(self) -> None:
        # Both offsets are the next record to handle; Faust's own forgets a commit at offset 0
        # and leaves a partition without one uncommitted, which `_new_offset` would then skip.
        for tp, position in (await self.seek_to_committed()).items():
            tp = ensure_TP(tp)
            self._read_offset[tp] = position
            if position is not None:
                self._committed_offset[tp] = position
        self._seeks += 1  # what the drain loop is handing out was fetched before: given up
        # A partition held before a rebalance and held again after it at the same offset would
        # otherwise count its wait from before, and be logged at once.
        self._held_commits.clear()

    def _new_offset(self, tp: TP) -> Optional[int]:
        acked, committed = self._acked[tp], self._committed_offset.get(tp)
        if committed is None:
            # Not sought to a commit in this generation: a changelog declared with acks
            # (`emails`), or acks from before the seek. Kept, they would pile up.
            acked.clear()
            self._acked_index[tp].clear()
            return None
        if not acked:
            return None
        end = commit_end(committed, self._acked_index[tp], self._gap[tp])
        if end == committed:
            self._note_held_commit(tp, committed, len(acked))
            return None
        self._held_commits.pop(tp, None)
        acked[:] = [offset for offset in acked if offset >= end]
        self._acked_index[tp].intersection_update(acked)
        self._gap[tp].chop(0, end)
        return end

    @cached_property
    def _held_commits(self) -> dict[TP, list]:
        """Partitions whose commit waits for the record at their committed offset:
        tp -> [that offset, since when (monotonic), whether it was logged]."""
        return {}

    def _note_held_commit(self, tp: TP, offset: int, handled_after: int) -> None:
        # For a moment, normal (the record is still being handled); for COMMIT_STALL_WARN_S, a
        # record that was never handed out, and nothing past it is ever committed.
        held = self._held_commits.get(tp)
        if held is None or held[0] != offset:
            self._held_commits[tp] = [offset, monotonic(), False]
        elif not held[2] and monotonic() - held[1] >= COMMIT_STALL_WARN_S:
            held[2] = True
            log.warning("%s: nothing past offset %d is committed: it has not been handled for "
                        "%.0f s (%d records after it have)", tp, offset, monotonic() - held[1],
                        handled_after)

    def stop_flow(self) -> None:
        super().stop_flow()
        if self._delivering is not None:  # a delivery waiting for room: its record is read again
            self._delivering.cancel()
            self._delivery_cancelled = True

    async def _drain_messages(self, fetcher: Any) -> None:
        read_offset, committed, gaps = self._read_offset, self._committed_offset, self._gap
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        commit_every = self._commit_every
        task = asyncio.current_task()
        self._delivery_cancelled = False
        try:
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):
                self.diag.set_flag(CONSUMER_FETCHING)
                async with aclosing(self.getmany(timeout=1.0)) as fetched:
                    since_yield, seeks = 0, None
                    async for tp, message in fetched:
                        if seeks is None:
                            seeks = self._seeks  # the seeks before this batch was fetched
                        if suspended() or seeks != self._seeks:
                            break  # a rebalance began, or a seek: the rest is read again after it
                        offset, expected = message.offset, read_offset.get(tp)
                        acks = acks_enabled_for(message.topic)
                        if acks and committed.get(tp) is None:
                            continue  # fetched before its seek to the commit: read again after it
                        if expected is not None:
                            if offset < expected:
                                continue  # fetched before a seek back
                            if offset > expected and acks:
                                gaps[tp].addi(expected, offset)  # absent: compacted, or markers
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        self._delivering = task
                        try:
                            await self.callback(message)
                        except asyncio.CancelledError:
                            if not self._delivery_cancelled or task.cancelling() > 1:
                                raise  # the fetcher is stopping
                        finally:
                            self._delivering = None
                        if self._delivery_cancelled:  # by stop_flow: read again after the seek
                            self._delivery_cancelled = False
                            task.uncancel()
                            break
                        if seeks != self._seeks:
                            break  # sought meanwhile: the seek set where to read next
                        read_offset[tp] = offset + 1
                        since_yield += 1
                        if since_yield >= 100:  # a long batch still lets the loop breathe
                            since_yield = 0
                            await asyncio.sleep(0)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        # Faust forgets the acknowledged offsets of revoked partitions before it commits, so
        # without this a rebalance commits nothing and the next owner redoes every record since
        # the last commit, side effects (emails) included.
        await self.commit()
        await super().on_partitions_revoked(revoked)
        drop_pending(self._tables())


class Producer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        # Idempotent: a batch resent after a lost acknowledgement (a broker lost, a leader
        # moved) is written once, and in order. Faust turns it on only in transactions.
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
    Producer = Producer
