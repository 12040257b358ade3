"""Two changes to how aiokafka's client (aiokafka 0.14) keeps cluster metadata.

**A backoff after a failed update.** While no broker answers, aiokafka's producer sender and
fetcher force a metadata update, wait for it, and force the next one as soon as it fails, which
it does at once (connection refused). A worker whose broker restarts then spins: about 7,000
updates a second, each logging two errors, one core busy. Kafka's Java client and kafka-python
wait `retry_backoff_ms` after a failed update (kafka-python fixed the same spin in
dpkp/kafka-python#733); this makes aiokafka's client do the same. Every caller of a failed update
waits with it, so the spin becomes ten tries a second.

**Every topic sent to is tracked.** A client tracking no topic asks for the metadata of all of
them; once it tracks one, it asks for those it tracks only, and forgets the rest. aiokafka adds a
topic to that list on a send only when it does not know the topic yet, so a producer that first
learned every topic from a full update tracks none of those it sends to, until some send adds a
topic it did not know: the next update then drops all the others. A batch already waiting for
one of them has no leader any more, and waits until another send to that topic adds it, or for
the request timeout (20 minutes in Faust). The commit barrier's changelog records waited so,
alone on their topics, and the worker stopped committing and answering (the crash test, about
once in ten runs; its stack dump showed the sender waiting for a leader). Here every send
tracks its topic first, as Kafka's Java producer does.
"""

from __future__ import annotations

import asyncio

from aiokafka.client import AIOKafkaClient

_update_metadata = AIOKafkaClient._metadata_update
_wait_on_metadata = AIOKafkaClient._wait_on_metadata


async def _update_metadata_or_back_off(self: AIOKafkaClient, cluster_metadata, topics) -> bool:
    updated = await _update_metadata(self, cluster_metadata, topics)
    if not updated:
        await asyncio.sleep(self._retry_backoff)
    return updated


async def _track_and_wait_on_metadata(self: AIOKafkaClient, topic: str):
    if topic not in self._topics:
        self.add_topic(topic)
    return await _wait_on_metadata(self, topic)


def install() -> None:
    """Change every aiokafka client in this process: back off after a failed metadata update,
    and track every topic it sends to."""
    AIOKafkaClient._metadata_update = _update_metadata_or_back_off
    AIOKafkaClient._wait_on_metadata = _track_and_wait_on_metadata
