"""How the worker's consumer hands records over around a rebalance (app/framework/transport.py), against
the real broker: what aiokafka 0.14 does, and what the app's transport does instead."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.framework.transport import ConsumerThread, seek_to_committed_or_beginning, wait_for_topics_in_metadata


class FlowingConsumer:
    flow_active = True  # all Faust's consumer is asked by `_fetch_records`


@pytest.fixture()
async def two_partitions(kafka):
    """A stream partition and a changelog partition, three records each, both assigned to a
    consumer of a new group that has read them all and committed nothing."""
    stream = TopicPartition(f"stream-{uuid.uuid4().hex[:8]}", 0)
    changelog = TopicPartition(f"app-table-{uuid.uuid4().hex[:8]}-changelog", 0)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(tp.topic, 1, 1) for tp in (stream, changelog)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for tp in (stream, changelog):
            for n in range(3):
                await producer.send_and_wait(tp.topic, f"{n}".encode(), partition=tp.partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id=f"group-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([stream, changelog])
        yield consumer, stream, changelog
    finally:
        await consumer.stop()


async def read_to_end(consumer, *partitions) -> None:
    while [tp for tp in partitions if await consumer.position(tp) < 3]:
        await consumer.getmany(*partitions, timeout_ms=1000)


async def test_a_stream_partition_without_a_commit_is_sought_back_to_its_beginning(two_partitions):
    consumer, stream, changelog = two_partitions
    await read_to_end(consumer, stream, changelog)

    # aiokafka leaves a partition without a commit where it is: past what was read.
    assert await consumer.seek_to_committed() == {stream: None, changelog: None}
    assert await consumer.position(stream) == 3

    assert await seek_to_committed_or_beginning(consumer, {changelog.topic}) == {
        stream: 0, changelog: None,
    }
    assert await consumer.position(stream) == 0
    assert await consumer.position(changelog) == 3  # Faust's recovery places changelogs itself

    await consumer.commit({stream: 2})
    await read_to_end(consumer, stream)
    assert await seek_to_committed_or_beginning(consumer, {changelog.topic}) == {
        stream: 2, changelog: None,
    }
    assert await consumer.position(stream) == 2


async def test_a_fetch_for_no_partitions_gets_no_records(two_partitions):
    consumer, stream, changelog = two_partitions
    fetcher = ConsumerThread.__new__(ConsumerThread)
    fetcher.consumer = FlowingConsumer()

    # Asked for no partitions, aiokafka hands out the records of every assigned one.
    everything = await consumer._fetcher.fetched_records(set(), timeout=5)
    assert set(everything) == {stream, changelog}
    await consumer.seek_to_beginning(stream, changelog)

    assert await fetcher._fetch_records(consumer, set(), timeout=1) == {}
    assert await consumer.position(stream) == 0
    only_stream = await fetcher._fetch_records(consumer, {stream}, timeout=5)
    assert set(only_stream) == {stream}


async def test_a_topic_created_after_the_consumer_subscribed_is_waited_for_in_its_metadata(kafka):
    # aiokafka would next ask for metadata after `metadata_max_age_ms` (5 minutes), and until
    # then a group leader would assign the topic to no one.
    topic = f"late-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=f"group-{topic}")
    await consumer.start()
    try:
        consumer.subscribe([topic])
        waiting = asyncio.ensure_future(wait_for_topics_in_metadata(consumer, [topic], timeout_s=60))
        await asyncio.sleep(1)
        assert not waiting.done()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 3, 1)])
        finally:
            await admin.close()
        assert await asyncio.wait_for(waiting, 30) == []
        assert len(consumer._client.cluster.partitions_for_topic(topic)) == 3
    finally:
        await consumer.stop()


async def test_a_topic_that_never_comes_is_named_after_the_wait(kafka):
    topic = f"never-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap)
    await consumer.start()
    try:
        consumer.subscribe([topic])
        assert await wait_for_topics_in_metadata(consumer, [topic], timeout_s=1) == [topic]
    finally:
        await consumer.stop()
