"""Reading topics from outside the consumer group: every record of some partitions, from a start
to the end they had when the read began (`make trace`, the rebuild and check commands)."""

from __future__ import annotations

import sys
import time
from typing import AsyncIterator, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from app.kafka_clients import client_options
from app.settings import Settings

#: How often a long read says how far it is.
PROGRESS_EVERY_S = 5.0


async def read_to_end(
    settings: Settings, partitions: list[TopicPartition], *,
    start: Mapping[TopicPartition, int] | None = None, what: str = "",
) -> AsyncIterator[list[ConsumerRecord]]:
    """Batches of the records of `partitions` (in offset order within each), from the `start`
    offsets (else the beginning) to the end each partition has when the read begins. With
    `what`, a read longer than a few seconds says on stderr how much of `what` is read and left.
    """
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        first = await consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(first[tp], (start or {}).get(tp, 0)))
        total = sum([end[tp] - await consumer.position(tp) for tp in partitions])
        started = said = time.monotonic()
        while True:
            # Positions, not offsets of records seen: compaction and transaction markers leave gaps.
            left = [tp for tp in partitions if await consumer.position(tp) < end[tp]]
            if not left:
                return
            batches = await consumer.getmany(*left, timeout_ms=1000)
            records = [record for tp, batch in batches.items() for record in batch
                       if record.offset < end[tp]]
            if records:
                yield records
            if what and time.monotonic() - said >= PROGRESS_EVERY_S:
                said = time.monotonic()
                remaining = sum([max(0, end[tp] - await consumer.position(tp)) for tp in partitions])
                print(progress(f"reading {what}", total - remaining, total, said - started),
                      file=sys.stderr, flush=True)
    finally:
        await consumer.stop()


def progress(what: str, done: int, total: int, elapsed_s: float) -> str:
    """`reading orders: 412,000 of 1,000,000 records after 5 s, about 7 s left` (`what`:
    "reading orders")."""
    line = f"{what}: {done:,} of {total:,} records after {elapsed_s:.0f} s"
    if 0 < done < total:
        line += f", about {elapsed_s * (total - done) / done:.0f} s left"
    return line
