"""Watching the app under benchmark from outside: records as they land on its topics, its lag.

A benchmark times an order by what the app writes, not by what it was sent: its terminal event on
`orders` (decided), or its email on `emails` (the last step: every check, the join with its
payment and its customer). And a worker is done with a load only when its consumer lag is 0:
every agent has handled, and committed, every record.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Callable

import aiohttp
from aiokafka import AIOKafkaConsumer

from app.kafka_clients import options_for
from app.schemas import unframe

_LAG = re.compile(r'^consumer_lag\{topic="[^"]*"\} (\S+)$', re.MULTILINE)
_TABLE_MEMORY = re.compile(r'^table_memory_bytes\{part="[^"]*"\} (\S+)$', re.MULTILINE)


def is_decided(value: bytes) -> bool:
    """An `orders` record (framed with its schema id) in a terminal state."""
    return json.loads(unframe(value)[1])["state"] != "CREATED"


#: How often a watch says how far it got.
PROGRESS_EVERY_S = 5.0


async def first_seen(
    bootstrap: str, topic: str, wanted: int, timeout: float,
    accept: Callable[[bytes], bool] = lambda value: True, what: str = "",
) -> dict[str, float]:
    """Key -> when (monotonic) its first accepted record on `topic` was read, for `wanted` keys.

    Reads what is written after the call: start it before the load. With `what`, prints how
    many it has seen every PROGRESS_EVERY_S.
    """
    consumer = AIOKafkaConsumer(topic, **options_for(bootstrap), auto_offset_reset="latest",
                                enable_auto_commit=False)
    await consumer.start()
    await consumer.seek_to_end()
    seen: dict[str, float] = {}
    started = time.monotonic()
    deadline, report_at = started + timeout, started + PROGRESS_EVERY_S
    try:
        while len(seen) < wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(seen)} of {wanted} keys on {topic} in {timeout:.0f}s")
            if what and time.monotonic() > report_at:
                report_at += PROGRESS_EVERY_S
                print(f"  {what}: {len(seen):,} of {wanted:,} after "
                      f"{time.monotonic() - started:.0f} s", flush=True)
            batches = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    if accept(record.value):
                        seen.setdefault(record.key.decode(), now)
        return seen
    finally:
        await consumer.stop()


async def scrape(http: aiohttp.ClientSession, url: str) -> str:
    """A worker's `GET /metrics`."""
    async with http.get(f"{url}/metrics") as response:
        return await response.text()


def consumer_lag(metrics: str) -> float:
    """The worker's consumer lag, summed over its input topics."""
    return sum(float(value) for value in _LAG.findall(metrics))


def table_memory_mb(metrics: str) -> float:
    """The RocksDB memory the worker's tables use: block cache and memtables."""
    return sum(float(value) for value in _TABLE_MEMORY.findall(metrics)) / 2**20


async def drained(url: str, timeout: float = 600) -> float:
    """Wait until the worker at `url` has no lag; returns when (monotonic)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while consumer_lag(await scrape(http, url)) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker's lag did not drain within {timeout:.0f}s")
            await asyncio.sleep(0.5)
    return time.monotonic()
