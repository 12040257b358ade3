"""The Kafka transport of the app: Faust's aiokafka driver, with the worker's fetches batched.

Faust's consumer asks the broker to answer a fetch as soon as one byte is there. Under a steady,
moderate load each answer then carries a record or two, and the worker spends its time sending
fetch requests for every one of its ~50 partitions and decoding their answers. Asking for
CONSUMER_FETCH_MIN_BYTES, or whatever is there after CONSUMER_FETCH_MAX_WAIT_MS, took a worker
at 50 orders/s over HTTP from 90% of a core to 63%, and POST p99 at 100 orders/s from 136 ms to
102 ms (BENCHMARKS.md). A record waits at most the wait, per hop, before the worker sees it; an
idle worker fetches every 10 ms instead of every 1.5 s (about 7% of a core instead of 3%).
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

from app.settings import Settings


def batch_fetches(consumer: aiokafka.AIOKafkaConsumer, settings: Settings) -> None:
    """Set the fetch batching of a consumer that has not started (its fetcher reads these)."""
    consumer._fetch_min_bytes = settings.consumer_fetch_min_bytes
    consumer._fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        batch_fetches(consumer, self.app.settings)  # Faust passes neither setting through
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
