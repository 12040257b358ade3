"""The real broker and schema registry, started once per session, and apps of real workers on
them; PostgreSQL and Kafka Connect, started once per session by the first test that needs them.

Each test module gets its own app id and topic prefix (so its own subjects), so modules share
nothing but the broker and the registry. With KAFKA_BOOTSTRAP set, the tests use that cluster and
start no broker; with SCHEMA_REGISTRY_URL set, that registry, and start none; the same for
DATABASE_URL and CONNECT_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.broker import BrokerError, LocalBroker, LocalCluster, Secured, free_port, free_port_pair
from app.connect import LocalConnect
from app.postgres import LocalPostgres
from app.processes import WorkerProcess, faust_command
from app.registry import LocalRegistry
from app.schemas import unframe
from app.settings import Settings
from app.trace import read_partitions


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.broker)


@dataclass
class Kafka:
    bootstrap: str
    broker: LocalBroker | LocalCluster | None  # None: an external cluster (KAFKA_BOOTSTRAP)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory) -> Kafka:
    settings = Settings.from_env()
    if settings.kafka_bootstrap:
        yield Kafka(settings.kafka_bootstrap, None)
        return
    broker = start_on_free_ports(tmp_path_factory, settings)
    try:
        yield Kafka(broker.bootstrap_servers, broker)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def registry(kafka, tmp_path_factory) -> str:
    """The Confluent-compatible URL of the session's schema registry."""
    settings = Settings.from_env()
    if settings.schema_registry_url:
        yield settings.schema_registry_url
        return
    local = LocalRegistry(port=free_port_pair(), bootstrap=kafka.bootstrap,
                          log_dir=tmp_path_factory.mktemp("registry"),
                          cache_dir=settings.kafka_cache_dir)
    with local:
        yield local.url


@pytest.fixture(scope="session")
def postgres() -> str:
    """The URL of the session's PostgreSQL server (DATABASE_URL, or a local one started here)."""
    settings = Settings.from_env()
    if settings.database_url:
        yield settings.database_url
        return
    # Not under pytest's tmp dir: PostgreSQL runs as `nobody` when the tests run as root, and
    # pytest's folders are private to their user.
    home = Path(tempfile.mkdtemp(prefix="postgres-"))
    home.chmod(0o711)
    try:
        with LocalPostgres(port=free_port(), data_dir=home / "data") as server:
            yield server.url
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def connect(kafka, tmp_path_factory) -> LocalConnect | str:
    """The session's Kafka Connect cluster: the local worker started here, or CONNECT_URL."""
    settings = Settings.from_env()
    if settings.connect_url:
        yield settings.connect_url
        return
    worker = LocalConnect(port=free_port(), bootstrap=kafka.bootstrap,
                          data_dir=tmp_path_factory.mktemp("connect"),
                          cache_dir=settings.kafka_cache_dir,
                          group_id=f"connect-{uuid.uuid4().hex[:8]}")
    with worker:
        yield worker


def start_on_free_ports(tmp_path_factory, settings: Settings, attempts: int = 3,
                        secured: Secured | None = None) -> LocalBroker:
    """A started local broker; on other ports again if one was taken between the choice and the
    broker's bind (a port is only known free until someone takes it)."""
    return _started_on_free_ports(lambda: LocalBroker(
        port=free_port_pair(), data_dir=tmp_path_factory.mktemp("kafka"),
        cache_dir=settings.kafka_cache_dir, secured=secured), attempts)


def start_cluster_on_free_ports(tmp_path_factory, settings: Settings, nodes: int = 3,
                                attempts: int = 3) -> LocalCluster:
    """A started local cluster of `nodes` nodes, as `start_on_free_ports`."""

    def cluster() -> LocalCluster:
        ports: list[int] = []
        while len(ports) < nodes:
            port = free_port_pair()
            if all(abs(port - taken) > 1 for taken in ports):
                ports.append(port)
        return LocalCluster(ports=ports, data_dir=tmp_path_factory.mktemp("cluster"),
                            cache_dir=settings.kafka_cache_dir, heap_mb=512)

    return _started_on_free_ports(cluster, attempts)


def start_in_background(broker: LocalBroker) -> asyncio.Future:
    """Start a stopped broker; the returned future is done once it serves. Its JVM is started
    from this thread: one started from a pool's thread would get SIGTERM when that thread ends
    (app/processes.die_with_parent)."""
    broker.launch()
    return asyncio.ensure_future(asyncio.to_thread(broker.wait_until_serving))


def _started_on_free_ports(make, attempts: int):
    for attempt in range(1, attempts + 1):
        server = make()
        try:
            return server.start()
        except BrokerError:
            nodes = server.nodes if isinstance(server, LocalCluster) else [server]
            bind_failed = any("Address already in use" in node.log_file.read_text()
                              for node in nodes if node.log_file.exists())
            if not bind_failed or attempt == attempts:
                raise


class OrdersApp:
    """Workers of one app (one consumer group) with their own topics, on the session's broker."""

    def __init__(self, kafka: Kafka, registry_url: str, root: Path,
                 settings: dict[str, str] | None = None) -> None:
        self.kafka = kafka
        #: Settings (environment variables) every worker of this app gets.
        self.settings = settings or {}
        self.registry_url = self.settings.get("SCHEMA_REGISTRY_URL", registry_url)
        self.root = root
        self.app_id = f"test-{uuid.uuid4().hex[:8]}"
        self.topic_prefix = f"{self.app_id}."
        self.workers: list[WorkerProcess] = []

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    @property
    def worker_settings(self) -> Settings:
        """The settings this app's workers run with (TOPIC_PARTITIONS, COMMIT_INTERVAL_S, ...)."""
        return Settings.from_env({**os.environ, **self.settings})

    def add_worker(
        self, data_dir: Path | None = None, log_file: Path | None = None, healthy: bool = True,
    ) -> WorkerProcess:
        """A started worker of this app; once it is healthy, unless `healthy` is False."""
        port = free_port()
        worker = WorkerProcess({
            **self.settings,
            "KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "SCHEMA_REGISTRY_URL": self.registry_url,
            "APP_ID": self.app_id,
            "TOPIC_PREFIX": self.topic_prefix,
            "WEB_PORT": str(port),
            "DATA_DIR": str(data_dir or self.root / f"worker-{port}"),
        }, log_file=log_file)
        self.workers.append(worker)
        worker.start()
        return worker.wait_healthy() if healthy else worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    async def produce(self, name: str, key: bytes, payload: bytes) -> tuple[int, int]:
        """Write one record to one of the app's topics as any Confluent client would: framed
        with the id the registry has for the topic's subject (built here from the wire format's
        definition, not with the app's code); returns its (partition, offset)."""
        schema_id = await self.schema_id(name)
        return await self.produce_raw(name, key, b"\x00" + schema_id.to_bytes(4, "big") + payload)

    async def schema_id(self, name: str) -> int:
        """The id of the latest schema of one of the app's topics, asked of the registry."""
        subject = f"{self.topic(name)}-value"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.registry_url}/subjects/{subject}/versions/latest") as answer:
                assert answer.status == 200, await answer.text()
                return (await answer.json(content_type=None))["id"]

    async def produce_raw(self, name: str, key: bytes, value: bytes) -> tuple[int, int]:
        """Write one record, as it is, to one of the app's topics; returns its (partition, offset)."""
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap, acks="all")
        await producer.start()
        try:
            sent = await producer.send_and_wait(self.topic(name), value=value, key=key)
            return sent.partition, sent.offset
        finally:
            await producer.stop()

    async def processed(self, name: str, partition: int, offset: int) -> bool:
        """Whether the app's consumer group has committed past `offset` of a partition."""
        position = (await self._committed()).get(TopicPartition(self.topic(name), partition))
        return position is not None and position.offset > offset

    async def caught_up(self, name: str) -> bool:
        """Whether the app's consumer group has committed everything now on a topic."""
        partitions = await self.partitions(name)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()
        committed = await self._committed()
        return all(
            ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp])
            for tp in partitions
        )

    async def _committed(self) -> dict:
        async with kafka_admin(self.kafka.bootstrap) as admin:
            return await admin.list_consumer_group_offsets(self.app_id)

    async def read_records(self, name: str) -> list[ConsumerRecord]:
        """Every record on one of the app's topics, from the beginning to the end."""
        return await read_partitions(
            Settings(kafka_bootstrap=self.kafka.bootstrap), await self.partitions(name))

    async def read_topic(self, name: str) -> list[tuple[bytes, bytes]]:
        """Every (key, payload) on one of the app's topics, from the beginning to the end; each
        value is framed with a schema id (app/schemas.py), which is checked and taken off."""
        return [(record.key, payload_of(record.value)) for record in await self.read_records(name)]

    async def read_items(self, name: str) -> list[tuple[bytes, bytes]]:
        """Every item on one of the app's batched topics (a record is a JSON array of items),
        as (the item's `orderId`, the item's JSON), in order."""
        return [
            (item["orderId"].encode(), json.dumps(item).encode())
            for _, value in await self.read_topic(name) for item in json.loads(value)
        ]

    async def partitions(self, name: str) -> list[TopicPartition]:
        described = await self.describe(name)
        return [TopicPartition(self.topic(name), p["partition"]) for p in described["partitions"]]

    async def describe(self, name: str) -> dict:
        """What the cluster says of one of the app's topics: its partitions, each with its leader,
        replicas and in-sync replicas."""
        async with kafka_admin(self.kafka.bootstrap) as admin:
            [described] = await admin.describe_topics([self.topic(name)])
        return described


@asynccontextmanager
async def kafka_admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def payload_of(value: bytes) -> bytes:
    """A framed value's payload, after checking it is framed with an id the registry gave."""
    schema_id, payload = unframe(value)
    assert schema_id > 0, value
    return payload


@pytest.fixture(scope="module")
def orders_app(kafka, registry, tmp_path_factory) -> OrdersApp:
    """An app with one worker, shared by the tests of a module (they use distinct order ids)."""
    app = OrdersApp(kafka, registry, tmp_path_factory.mktemp("app"))
    app.add_worker()
    yield app
    app.stop()


@pytest.fixture()
def new_app(kafka, registry, tmp_path):
    """A fresh app per test, for tests that start, stop and kill workers."""
    yield from app_factory(kafka, registry, tmp_path)


def app_factory(kafka: Kafka, registry: str, root: Path, **defaults: str):
    """A fixture's body: yields `make(settings)`, which makes an app on `kafka` whose workers get
    `defaults` and `settings`; every app made is stopped at the end."""
    apps = []

    def make(settings: dict[str, str] | None = None) -> OrdersApp:
        apps.append(OrdersApp(kafka, registry, root, {**defaults, **(settings or {})}))
        return apps[-1]

    yield make
    for app in apps:
        app.stop()


@pytest.fixture()
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


PLACED_FIELDS = ("id", "customerId", "product", "quantity", "price", "createdAt")


def placed(order: dict) -> dict:
    """The fields an order is placed with (its state moves on as the validators answer)."""
    return {field: order[field] for field in PLACED_FIELDS}


def unique(prefix: str = "order") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def run_command(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess:
    """`faust -A app <args>` with `worker`'s settings (its app, its broker), output captured."""
    return await asyncio.to_thread(subprocess.run, faust_command(*args), env=worker.environment,
                                   capture_output=True, text=True, timeout=600)


async def assert_views_consistent(worker: WorkerProcess) -> None:
    """`faust -A app check`: every view rebuilt from the log equals its live table."""
    checked = await run_command(worker, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def eventually(check, timeout: float = 30.0, interval: float = 0.2):
    """Await `check()` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        await asyncio.sleep(interval)


async def eventually_nothing_wrong(find_wrong, what: str, timeout: float = 30.0,
                                   interval: float = 0.2) -> None:
    """Await `find_wrong()` (a list of what is wrong) until it is empty; after `timeout` seconds,
    fail with `what` and the last list."""
    wrong: list[str] = []

    async def nothing_wrong() -> bool:
        wrong[:] = await find_wrong()
        return not wrong

    try:
        await eventually(nothing_wrong, timeout, interval)
    except AssertionError:
        raise AssertionError(f"{what}:\n" + "\n".join(wrong)) from None
