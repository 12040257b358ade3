"""The Kafka transport of the app: Faust's aiokafka driver, with fetches batched, the commit
barrier of the write-behind tables, subscribed topics awaited in the metadata, and two holes in
how Faust and aiokafka hand records over during a rebalance closed.

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

**Topics missing from the metadata.** A worker subscribes right after it creates the changelog
topics of a new app. aiokafka's metadata can still lack a topic created a moment before (the broker
had not published it yet), and aiokafka asks again only every 5 minutes (`metadata_max_age_ms`):
until then the group leader's assignments leave that topic out ("Ignoring missing topic"), and
its table has no owner: nothing recovers it, and no deadline of `open_orders` was ever announced
(the write-behind crash test, once in a few runs on a loaded machine). So after subscribing, the
consumer asks for metadata until every subscribed topic is in it; aiokafka then sees the new
partitions and rebalances on its own.

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
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Collection, Iterable, Mapping, Optional, Set

import aiokafka
from aiokafka import TopicPartition
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from app.settings import Settings
from app.framework.table import Table, drop_pending, flush_tables


log = logging.getLogger(__name__)

#: How long a worker waits for its subscribed topics to appear in the metadata before it says so.
TOPICS_IN_METADATA_TIMEOUT_S = 60.0


def batch_fetches(consumer: aiokafka.AIOKafkaConsumer, settings: Settings) -> None:
    """Set the fetch batching of a consumer that has not started (its fetcher reads these)."""
    consumer._fetch_min_bytes = settings.consumer_fetch_min_bytes
    consumer._fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms


async def seek_to_committed_or_beginning(
    consumer: aiokafka.AIOKafkaConsumer, changelog_topics: Collection[str]
) -> dict[TopicPartition, Optional[int]]:
    """Seek every assigned partition to its committed offset, and a stream partition without
    one to its beginning; returns the committed offsets (None: no commit).

    Changelog partitions have no commits: Faust's recovery positions them itself.
    """
    committed = await consumer.seek_to_committed()
    uncommitted = [
        tp for tp, offset in committed.items() if not offset and tp.topic not in changelog_topics
    ]
    if uncommitted:
        await consumer.seek_to_beginning(*uncommitted)
    return committed


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

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        # Faust forgets the acknowledged offsets of revoked partitions before it commits, so
        # without this a rebalance commits nothing and the next owner redoes every record since
        # the last commit, side effects (emails) included.
        await self.commit()
        await super().on_partitions_revoked(revoked)
        drop_pending(self._tables())


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
