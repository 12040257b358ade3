import asyncio
import time

from aiokafka.client import AIOKafkaClient

from app.framework import metadata
from app.broker import free_port


async def test_a_failed_metadata_update_waits_the_retry_backoff_before_the_next(monkeypatch):
    # Without the backoff, aiokafka forces update after update while no broker answers.
    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", metadata._update_metadata)
    monkeypatch.setattr(AIOKafkaClient, "_wait_on_metadata", metadata._wait_on_metadata)
    metadata.install()
    client = AIOKafkaClient(bootstrap_servers=f"127.0.0.1:{free_port()}", retry_backoff_ms=300)
    try:
        started = time.monotonic()
        updated = await client._metadata_update(client.cluster, [])
        assert updated is False  # nobody listens on that port
        assert time.monotonic() - started >= 0.3
    finally:
        await client.close()
