"""The worker's consumer batches its fetches (app/framework/transport.py); Faust alone asks for 1 byte."""

import pytest

from app.main import app

pytestmark = pytest.mark.usefixtures("built_app")  # what these test is made by the app


async def test_the_worker_consumer_waits_for_a_batch_up_to_the_configured_wait():
    kafka_consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert kafka_consumer._fetch_min_bytes == app.settings.consumer_fetch_min_bytes == 64 * 1024
        assert kafka_consumer._fetch_max_wait_ms == app.settings.consumer_fetch_max_wait_ms == 10
    finally:
        await kafka_consumer.stop()
