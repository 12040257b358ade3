"""The app's Kafka transport (app/transport.py): fetches batched, and a flush that drains."""

import asyncio

from app.main import app
from app.transport import Producer, drain


async def test_the_worker_consumer_waits_for_a_batch_up_to_the_configured_wait():
    kafka_consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert kafka_consumer._fetch_min_bytes == app.settings.consumer_fetch_min_bytes == 64 * 1024
        assert kafka_consumer._fetch_max_wait_ms == app.settings.consumer_fetch_max_wait_ms == 10
    finally:
        await kafka_consumer.stop()


class SlowBuffer:
    """Faust's ProducerBuffer in short: one flush sends what goes out within 0.1 s, then stops."""

    def __init__(self, pending: int) -> None:
        self.size = pending

    async def flush(self) -> None:
        await asyncio.sleep(0.01)
        self.size -= 1  # one message went out, then 0.1 s passed without another


async def test_a_flush_before_a_commit_waits_until_every_buffered_table_write_is_sent():
    buffer = SlowBuffer(pending=5)
    await drain(buffer)
    assert buffer.size == 0


def test_the_app_produces_through_the_draining_producer():
    assert isinstance(app.producer, Producer)
