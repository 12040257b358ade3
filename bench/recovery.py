"""Recovery and scale-out figures: what a user pays to restart or add a worker.

- Cold restore: a worker with an empty DATA_DIR rebuilds a table of N keys from its changelog.
  The changelog of `order_states` is filled straight on the broker first (N decided orders, as
  the order-keyed services would leave them), so only the restore is timed.
- Warm restart: the same worker stopped cleanly, more keys written to the changelog meanwhile
  (a tail, as other workers would write while it is down), and started on its own DATA_DIR:
  it reads the tail only.
- Memory: the worker's RSS with the N keys, minus an idle worker's RSS.
- Throughput: PlaceOrder commands written straight to `order-requests`, timed until as many
  terminal events (VALIDATED or FAILED) are on `orders`, with one worker and with two.
"""

from __future__ import annotations

import asyncio
import os
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app import topics
from app.kafka_clients import options_for
from app.logs import progress
from app.partitioning import partition_of
from app.processes import WorkerProcess
from app.schemas import Schemas
from bench import load, watch
from models.records import Order, OrderState
from models.state import OrderRecord

PARTITIONS = 4
_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


@dataclass
class BenchApp:
    """Workers of one fresh app id on the benchmark's broker."""

    bootstrap: str
    #: The schema registry the workers and the load generator use.
    registry_url: str
    root: Path
    app_id: str = ""

    def __post_init__(self) -> None:
        self.app_id = self.app_id or f"bench-{uuid.uuid4().hex[:8]}"

    def topic(self, name: str) -> str:
        return f"{self.app_id}.{name}"

    def kafka_target(self) -> load.KafkaTarget:
        """The load generator writing straight to this app's topics."""
        return load.KafkaTarget(self.bootstrap, self.registry_url, self.topic(""))

    def worker(self, name: str, port: int) -> WorkerProcess:
        return WorkerProcess({
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "SCHEMA_REGISTRY_URL": self.registry_url,
            "APP_ID": self.app_id,
            "TOPIC_PREFIX": f"{self.app_id}.",
            "TOPIC_PARTITIONS": str(PARTITIONS),
            "WEB_PORT": str(port),
            "DATA_DIR": str(self.root / self.app_id / name),
            "LOG_LEVEL": "info",
        })


def cpu_s(worker: WorkerProcess) -> float:
    """CPU time the worker process has used so far (user and system), in seconds."""
    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(worker: WorkerProcess) -> float:
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    [kilobytes] = re.findall(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(kilobytes) / 1024


def restore_seconds(log: str) -> float | None:
    """From the first recovery in `log`: its first changelog read to "Recovery complete"."""
    started = log.find("Restoring state from changelog topics")
    if started < 0:
        return None
    finished = log.find("Recovery complete", started)
    if finished < 0:
        return None
    return _log_time(log, finished) - _log_time(log, started)


def _log_time(log: str, position: int) -> float:
    line_start = log.rfind("\n", 0, position) + 1
    stamp = _LOG_TIME.match(log[line_start:]).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def timed_start(worker: WorkerProcess) -> float:
    """Seconds from starting the worker to its first `GET /health` 200."""
    started = time.monotonic()
    worker.start().wait_healthy(timeout=1800)
    return time.monotonic() - started


def order_json(order_id: str, customer: int, state: str = "VALIDATED") -> dict:
    return {
        "id": order_id, "customerId": customer, "state": state, "product": "BENCH",
        "quantity": 1, "price": 5.0, "createdAt": datetime.now(timezone.utc).isoformat(),
    }


def order_record(order_id: str, customer: int) -> bytes:
    """A decided order's record in `order_states`."""
    created = Order.model_validate(order_json(order_id, customer, "CREATED"))
    validated = created.model_copy(update={"state": OrderState.VALIDATED})
    return OrderRecord(placed_by="bench", order=created, latest=validated, outcome=validated,
                       confirmed=True).to_bytes()


async def fill_changelog(app: BenchApp, table: str, keys: range) -> float:
    """Write decided orders `keys` to `table`'s changelog (`order_states`) as its agents would;
    returns seconds taken."""
    changelog = f"{app.app_id}-{table}-changelog"
    admin = AIOKafkaAdminClient(**options_for(app.bootstrap))
    await admin.start()
    try:
        if changelog not in await admin.list_topics():
            await admin.create_topics([NewTopic(changelog, PARTITIONS, 1,
                                                topic_configs={"cleanup.policy": "compact"})])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**options_for(app.bootstrap), acks=1, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    started = said = time.monotonic()
    try:
        for done, n in enumerate(keys):
            if time.monotonic() - said >= 5:
                said = time.monotonic()
                print(progress(f"writing {changelog}", done, len(keys), said - started),
                      flush=True)
            order_id = f"order-{n:08d}"
            await producer.send(
                changelog, key=order_id.encode(), partition=partition_of(order_id, PARTITIONS),
                value=order_record(order_id, n % 1000 + 1),
            )
        await producer.flush()
    finally:
        await producer.stop()
    return time.monotonic() - started


async def place_orders(app: BenchApp, count: int) -> None:
    """Stock for every order, then `count` PlaceOrder commands, as `POST /v1/orders` sends them."""
    schemas = Schemas.of(app.registry_url, app.topic(""),
                         [topics.warehouse_inventory, topics.order_requests])
    await schemas.register()
    await schemas.close()
    stock, requests = app.topic("warehouse-inventory"), app.topic("order-requests")
    producer = AIOKafkaProducer(**options_for(app.bootstrap), acks="all", linger_ms=5)
    await producer.start()
    try:
        await producer.send_and_wait(stock, key=b"BENCH",
                                     value=schemas.frame(stock, str(count * 10).encode()))
        for n in range(count):
            order_id = f"bench-{n:08d}"
            command = {"requestId": uuid.uuid4().hex,
                       "order": order_json(order_id, n % 1000 + 1, "CREATED")}
            await producer.send(requests, key=order_id.encode(),
                                value=schemas.frame(requests, json.dumps(command).encode()))
        await producer.flush()
    finally:
        await producer.stop()


async def throughput(app: BenchApp, workers: list[WorkerProcess], orders: int) -> float:
    """Validated-or-failed orders per second through `workers`."""
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.wait_healthy(timeout=300)
    await asyncio.sleep(5)  # let a second worker's rebalance settle before the clock starts
    deciding = asyncio.create_task(
        watch.first_seen(app.bootstrap, app.topic("orders"), orders, 1800, watch.is_decided))
    await asyncio.sleep(1)  # the watcher is at the end of `orders` before the first order
    started = time.monotonic()
    await place_orders(app, orders)
    return orders / (max((await deciding).values()) - started)


async def check_restored(worker: WorkerProcess, keys: int, samples: int = 200) -> None:
    """A sample of the restored keys, read back over HTTP: the restore really holds them."""
    async with aiohttp.ClientSession() as http:
        for n in random.sample(range(keys), min(samples, keys)):
            url = f"{worker.url}/v1/orders/order-{n:08d}"
            async with http.get(url, params={"timeout": 0}) as response:
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status} after the restore")


async def served_again_after_kill(app: BenchApp, keys: int, workers: list[WorkerProcess],
                                  samples_per_partition: int = 5) -> float:
    """Seconds from SIGKILLing one of `workers` (they share an app whose `order_states` holds
    `keys` orders, standbys on) until the others serve a sample of the keys it owned."""
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.wait_healthy(timeout=1800)
    async with aiohttp.ClientSession() as http:
        victim, owned = await _settled_owner(http, workers, app)
        survivors = [worker for worker in workers if worker is not victim]
        by_partition: dict[int, list[str]] = {p: [] for p in owned}
        for key in (f"order-{n:08d}" for n in range(keys)):
            chosen = by_partition.get(partition_of(key, PARTITIONS))
            if chosen is not None and len(chosen) < samples_per_partition:
                chosen.append(key)
        sample = [key for chosen in by_partition.values() for key in chosen]
        victim.kill()
        killed = time.monotonic()
        pending, answers = set(sample), {}
        while pending:
            for key in list(pending):
                url = f"{survivors[len(pending) % len(survivors)].url}/v1/orders/{key}"
                try:
                    async with http.get(url, params={"timeout": 0}) as response:
                        answers[key] = (response.status, (await response.text())[:300])
                        if response.status == 200:
                            pending.discard(key)
                except aiohttp.ClientError as error:
                    answers[key] = repr(error)
            if time.monotonic() - killed > 300:
                health = [await _get_json(http, f"{worker.url}/health") for worker in survivors]
                raise RuntimeError(
                    f"keys of the killed worker (partitions {sorted(owned)}) not served after "
                    "300 s: " + "; ".join(f"{key}: {answers.get(key)}" for key in pending)
                    + f"; the others' /health: {health}")
            await asyncio.sleep(0.1)
        return time.monotonic() - killed


async def _get_json(http: aiohttp.ClientSession, url: str) -> dict:
    async with http.get(url) as response:
        return await response.json()


async def _settled_owner(http: aiohttp.ClientSession, workers: list[WorkerProcess],
                        app: BenchApp) -> tuple[WorkerProcess, set[int]]:
    """Once every partition of `orders` has an owner among `workers`: one that owns some, and
    which. (With more workers than a fair share of partitions, one worker has only standbys.)"""
    prefix = f"{app.topic('orders')}["
    for _ in range(600):
        owned = []
        for worker in workers:
            assignment = (await _get_json(http, f"{worker.url}/health")).get("assignment", [])
            owned.append({int(tp[len(prefix):-1]) for tp in assignment if tp.startswith(prefix)})
        if sorted(p for parts in owned for p in parts) == list(range(PARTITIONS)):
            await asyncio.sleep(5)  # the standbys catch up
            return next((w, parts) for w, parts in zip(workers, owned) if parts)
        await asyncio.sleep(0.5)
    raise RuntimeError("the partitions of `orders` had no owner each after 300 s")
