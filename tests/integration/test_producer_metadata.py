"""aiokafka's producer forgets topics it learned from a full metadata update once it tracks any
topic (app/framework/metadata.py): against the real broker, what aiokafka 0.14 does, and what
the app's change does instead."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient

from app.framework import metadata


async def create(kafka, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, 1) for name in names])
    finally:
        await admin.close()


async def known_after_another_topic_is_added(kafka) -> tuple[bool, bool]:
    """Send to a topic the producer learned from a full update, then to a new one: whether the
    first is still tracked, and still in the producer's metadata."""
    first, later = f"first-{uuid.uuid4().hex[:8]}", f"later-{uuid.uuid4().hex[:8]}"
    await create(kafka, first)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        await producer.client.force_metadata_update()  # no topic tracked yet: all of them
        await producer.send_and_wait(first, b"1")
        await create(kafka, later)
        await producer.send_and_wait(later, b"2")
        await producer.client.force_metadata_update()
        client = producer.client
        return first in client._topics, client.cluster.partitions_for_topic(first) is not None
    finally:
        await producer.stop()


@pytest.fixture()
def aiokafka_alone(monkeypatch):
    """aiokafka's own client, whether or not this test session built an app (which changes it)."""
    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", metadata._update_metadata)
    monkeypatch.setattr(AIOKafkaClient, "_wait_on_metadata", metadata._wait_on_metadata)


@pytest.fixture()
def tracking(aiokafka_alone):
    metadata.install()


async def test_aiokafka_alone_forgets_a_topic_it_sends_to(kafka, aiokafka_alone):
    assert await known_after_another_topic_is_added(kafka) == (False, False)


async def test_with_the_app_s_change_every_topic_sent_to_stays_known(kafka, tracking):
    assert await known_after_another_topic_is_added(kafka) == (True, True)
