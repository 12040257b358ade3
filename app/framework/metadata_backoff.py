"""A backoff after a failed metadata update in aiokafka's client (aiokafka 0.14).

While no broker answers, aiokafka's producer sender and fetcher force a metadata update, wait for
it, and force the next one as soon as it fails, which it does at once (connection refused). A
worker whose broker restarts then spins: about 7,000 updates a second, each logging two errors,
one core busy. Kafka's Java client and kafka-python wait `retry_backoff_ms` after a failed update
(kafka-python fixed the same spin in dpkp/kafka-python#733); this makes aiokafka's client do the
same. Every caller of a failed update waits with it, so the spin becomes ten tries a second.
"""

from __future__ import annotations

import asyncio

from aiokafka.client import AIOKafkaClient

_update_metadata = AIOKafkaClient._metadata_update


async def _update_metadata_or_back_off(self: AIOKafkaClient, cluster_metadata, topics) -> bool:
    updated = await _update_metadata(self, cluster_metadata, topics)
    if not updated:
        await asyncio.sleep(self._retry_backoff)
    return updated


def install() -> None:
    """Make every aiokafka client in this process back off after a failed metadata update."""
    AIOKafkaClient._metadata_update = _update_metadata_or_back_off
