"""The app on a replicated cluster: three local KRaft nodes (app/broker.py LocalCluster), started
for this module whatever KAFKA_BOOTSTRAP says, since its tests stop and kill brokers.

- every topic the app creates has 3 replicas and `min.insync.replicas` 2;
- a worker refuses to start on a topic with fewer replicas, unless told to go on;
- a broker SIGKILLed under load, and a rolling restart of all three under load, lose and
  double nothing (the promises of tests/integration/invariants.py), with no worker restarted.

On the session's one-broker cluster the factor is capped to 1 with a warning
(`test_on_one_broker_the_replication_factor_is_capped_with_a_warning`).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.framework.worker import EXIT_KAFKA_REFUSED
from app.settings import Settings
from tests.integration.api import new_product, outcome, place, set_stock
from tests.integration.conftest import (
    Kafka, OrdersApp, app_factory, eventually, kafka_admin, start_cluster_on_free_ports,
    start_in_background,
)
from tests.integration.invariants import OrderStream

pytestmark = pytest.mark.cluster

RATE_PER_S = 10
#: The broker killed this many orders into the stream comes back 20 s later.
KILL_AT, DOWN_FOR_S = 60, 20
#: By then the cluster has fenced the killed broker (broker.session.timeout.ms, 9 s) and
#: moved its partitions' leadership.
SETTLED_S = 12
#: The rolling restart begins this many orders into the stream.
ROLL_AT = 40


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Kafka:
    cluster = start_cluster_on_free_ports(tmp_path_factory, Settings.from_env())
    try:
        yield Kafka(cluster.bootstrap_servers, cluster)
    finally:
        cluster.stop()


@pytest.fixture()
def cluster_app(cluster, registry, tmp_path):
    """A fresh app per test on the module's cluster."""
    yield from app_factory(cluster, registry, tmp_path, ORDER_TIMEOUT_S="60")


async def replication_of(bootstrap: str, prefix: str) -> dict[str, tuple[set[int], str]]:
    """Each topic whose name starts with `prefix`: its partitions' replica counts and its
    `min.insync.replicas`."""
    async with kafka_admin(bootstrap) as admin:
        names = sorted(name for name in await admin.list_topics() if name.startswith(prefix))
        replicas = {described["topic"]: {len(p["replicas"]) for p in described["partitions"]}
                    for described in await admin.describe_topics(names)}
        [configs] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    min_isr = {
        resource["resource_name"]: entry["config_value"]
        for resource in configs.to_object()["resources"]
        for entry in resource["config_entries"] if entry["config_names"] == "min.insync.replicas"
    }
    return {name: (replicas[name], min_isr[name]) for name in names}


async def in_sync(bootstrap: str) -> bool:
    """Whether every partition of every topic has all its replicas in sync."""
    async with kafka_admin(bootstrap) as admin:
        described = await admin.describe_topics(await admin.list_topics())
    return all(set(p["isr"]) == set(p["replicas"])
               for topic in described for p in topic["partitions"])


async def streaming(app: OrdersApp, http) -> tuple[list, OrderStream]:
    """Two workers of `app`, and an order stream through the first, its products and customers
    made."""
    workers = [app.add_worker(), app.add_worker()]
    stream = OrderStream(app, http, workers[0].url)
    await stream.prepare()
    return workers, stream


async def test_every_topic_the_app_creates_has_three_replicas_and_min_isr_two(cluster_app, http):
    app = cluster_app()
    worker = app.add_worker()
    product = new_product()
    await set_stock(http, worker.url, product, 5)
    order_id = await place(http, worker.url, product=product)
    assert (await outcome(http, worker.url, order_id))["state"] == "VALIDATED"

    # The registry's topics, the changelogs and Faust's leader topic all start with the app id.
    topics = await replication_of(app.kafka.bootstrap, app.app_id)
    assert app.topic("orders") in topics and f"{app.app_id}-__assignor-__leader" in topics
    assert any(name.endswith("-changelog") for name in topics)
    wrong = {name: found for name, found in topics.items() if found != ({3}, "2")}
    assert not wrong, wrong


async def test_a_worker_refuses_an_under_replicated_topic_unless_told_to_go_on(cluster_app):
    app = cluster_app()
    async with kafka_admin(app.kafka.bootstrap) as admin:
        await admin.create_topics([NewTopic(app.topic("payments"), 4, 1)])

    refused = app.add_worker(healthy=False)
    assert await asyncio.to_thread(refused.process.wait, 60) == EXIT_KAFKA_REFUSED
    said = refused.log_file.read_text()
    assert f"{app.topic('payments')} (1 replica)" in said
    assert "ALLOW_UNDER_REPLICATED_TOPICS" in said
    app.workers.remove(refused)

    app.settings["ALLOW_UNDER_REPLICATED_TOPICS"] = "true"
    started = app.add_worker()
    assert "starting anyway (ALLOW_UNDER_REPLICATED_TOPICS)" in started.log_file.read_text()


async def test_a_broker_killed_under_load_and_back_20_s_later_loses_nothing(cluster_app, http):
    app = cluster_app()
    workers, stream = await streaming(app, http)
    cluster = app.kafka.broker
    victim = await leader_of(app, "orders")
    back, early = [], []

    async def kill_and_restart(n: int) -> None:
        if n == KILL_AT:
            victim.kill()
        if n == KILL_AT + SETTLED_S * RATE_PER_S:
            early.extend(stream.accepted)
        if n == KILL_AT + DOWN_FOR_S * RATE_PER_S:
            # With the broker still down, the orders accepted once its partitions had moved
            # are decided: the pipeline runs on the other two replicas, not on a restart.
            undecided = set(early) - await decided(app)
            assert not undecided, f"{len(undecided)} of {len(early)} orders undecided"
            back.append(start_in_background(victim))

    orders = KILL_AT + (DOWN_FOR_S + 10) * RATE_PER_S
    await stream.run(orders, RATE_PER_S, kill_and_restart)
    await asyncio.gather(*back)
    assert back and all(node.process is not None for node in cluster.nodes)
    assert all(worker.process.poll() is None for worker in workers)  # none restarted by hand
    assert len(stream.accepted) >= orders * 0.7, stream.refused
    await stream.check_promises(workers)


async def test_a_rolling_restart_of_every_broker_under_load_loses_nothing(cluster_app, http):
    app = cluster_app()
    workers, stream = await streaming(app, http)
    cluster = app.kafka.broker
    rolled = []

    async def roll() -> None:
        """Each node in turn: a clean stop, a start, and every replica in sync again."""
        for node in cluster.nodes:
            await asyncio.to_thread(node.stop)
            await start_in_background(node)
            await eventually(lambda: in_sync(app.kafka.bootstrap), timeout=120, interval=1)
            rolled.append(node.node_id)

    rolling = []

    async def start_rolling(n: int) -> None:
        if n == ROLL_AT:
            rolling.append(asyncio.create_task(roll()))
        if rolling and rolling[0].done():
            rolling[0].result()  # a failed roll fails the test now

    orders = 0
    while not (rolling and rolling[0].done()):
        await stream.run(100, RATE_PER_S, lambda n, base=orders: start_rolling(base + n))
        orders += 100
    await rolling[0]
    assert rolled == [1, 2, 3]
    assert all(worker.process.poll() is None for worker in workers)
    await stream.check_promises(workers)


async def decided(app: OrdersApp) -> set[str]:
    """The orders with a VALIDATED or FAILED event on `orders`."""
    return {key.decode() for key, value in await app.read_topic("orders")
            if json.loads(value)["state"] in ("VALIDATED", "FAILED")}


async def leader_of(app: OrdersApp, name: str):
    """The node that leads partition 0 of one of the app's topics."""
    partitions = (await app.describe(name))["partitions"]
    leader = next(p["leader"] for p in partitions if p["partition"] == 0)
    return next(node for node in app.kafka.broker.nodes if node.node_id == leader)


async def test_on_one_broker_the_replication_factor_is_capped_with_a_warning(kafka, new_app, http):
    if kafka.broker is None:
        pytest.skip("KAFKA_BOOTSTRAP: the session's cluster is not the local single broker")
    app = new_app()
    worker = app.add_worker()
    assert ("topics get replication factor 1, min.insync.replicas 1 "
            "(TOPIC_REPLICATION_FACTOR=3 capped at the cluster's 1 broker)"
            in worker.log_file.read_text())
    topics = await replication_of(app.kafka.bootstrap, app.app_id)
    assert topics and all(found == ({1}, "1") for found in topics.values()), topics
    product = new_product()
    await set_stock(http, worker.url, product, 5)
    order_id = await place(http, worker.url, product=product)
    assert (await outcome(http, worker.url, order_id))["state"] == "VALIDATED"
