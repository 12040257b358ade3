"""Pipeline figures: what one worker sustains, how long an order takes, and the broker's floor.

- Throughput: orders and payments written straight to Kafka as fast as the load generator can,
  then validated orders per second, counted from terminal events on `orders` over the steady
  window (from the 10% to the 90% decided mark, so start-up and the tail do not count). A worker
  reaches an order's terminal event long before it has done everything else the order asks
  (the payment join, the email, the routing), so the figure users can plan with is the second
  one: completed orders/s, from the first order written to the last email on `emails`.
- Latency: orders and payments through `POST /v1/orders` at a fixed rate; each order's time from
  its POST to its terminal event on `orders` (p50, p95, p99), and the rate the API took. Measured
  at the rate asked (300/s) and at half the completed rate, where the worker keeps up.
- Floor: a raw aiokafka consume -> produce pass-through on the same broker in the same run
  (messages/s), and how many Kafka messages the pipeline handles per order (records written to
  every topic of the app, changelogs included, divided by the orders).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.broker import free_port
from app.kafka_clients import options_for
from app.processes import WorkerProcess
from bench import load, recovery, watch
from bench.load import percentile

PASS_THROUGH_BYTES = 300  # about one order record


async def floor(bootstrap: str, messages: int) -> float:
    """Messages/s through a bare consume -> produce loop between two scratch topics."""
    topics = [f"floor-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = AIOKafkaAdminClient(**options_for(bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, recovery.PARTITIONS, 1) for t in topics])
        return await _pass_through(bootstrap, *topics, messages)
    finally:
        await admin.delete_topics(topics)  # a shared cluster (KAFKA_BOOTSTRAP) keeps no litter
        await admin.close()


async def _pass_through(bootstrap: str, source: str, sink: str, messages: int) -> float:
    producer = AIOKafkaProducer(**options_for(bootstrap), linger_ms=5, acks=-1,
                                max_batch_size=256 * 1024)
    await producer.start()
    value = b"x" * PASS_THROUGH_BYTES
    for n in range(messages):
        await producer.send(source, key=str(n).encode(), value=value)
    await producer.flush()
    consumer = AIOKafkaConsumer(source, **options_for(bootstrap), group_id=source,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        piped, started = 0, None
        while piped < messages:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            started = started or time.monotonic()
            for records in batches.values():
                for record in records:
                    await producer.send(sink, key=record.key, value=record.value)
                    piped += 1
            await consumer.commit()
        await producer.flush()
        return messages / (time.monotonic() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def records_written(app: recovery.BenchApp) -> dict[str, int]:
    """Records now on each topic of the app (its own topics and its changelogs), by short name
    (`orders`, `order_states-changelog`)."""
    admin = AIOKafkaAdminClient(**options_for(app.bootstrap))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics()
                 if t.startswith(app.topic("")) or t.startswith(f"{app.app_id}-")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described
                  for p in t["partitions"]]
    consumer = AIOKafkaConsumer(**options_for(app.bootstrap))
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    written: dict[str, int] = {}
    for tp, end in ends.items():
        name = tp.topic.removeprefix(app.topic("")).removeprefix(f"{app.app_id}-")
        written[name] = written.get(name, 0) + end
    return written


async def throughput(app: recovery.BenchApp, worker: WorkerProcess, orders: int) -> dict:
    """Decided orders/s over the steady window, completed orders/s, Kafka messages per order, and
    the worker's CPU time per completed order (what an order costs, whatever else the machine
    runs meanwhile)."""
    before = await records_written(app)
    deciding = asyncio.create_task(watch.first_seen(
        app.bootstrap, app.topic("orders"), orders, 1800, watch.is_decided, "decided orders"))
    emailing = asyncio.create_task(
        watch.first_seen(app.bootstrap, app.topic("emails"), orders, 1800, what="emails"))
    await asyncio.sleep(1)  # the watchers are at the end of their topics before the first order
    started, cpu_before = time.monotonic(), recovery.cpu_s(worker)
    print(f"throughput: {orders:,} orders and payments straight to Kafka ...", flush=True)
    await load.run(app.kafka_target(), load.Workload.standard(orders), None, 256)
    decided = sorted((await deciding).values())
    first, last = decided[len(decided) // 10], decided[len(decided) * 9 // 10]
    completed = max((await emailing).values())
    await watch.drained(worker.url)  # the routing by level may still be writing
    cpu = recovery.cpu_s(worker) - cpu_before
    after = await records_written(app)
    by_topic = {name: round((after[name] - before.get(name, 0)) / orders, 3) for name in after
                if after[name] > before.get(name, 0)}
    return {
        "orders_per_s": (len(decided) * 8 // 10) / (last - first),
        "completed_orders_per_s": orders / (completed - started),
        "worker_cpu_ms_per_order": cpu * 1000 / orders,
        "events_per_order": sum(by_topic.values()),
        "events_per_order_by_topic": dict(sorted(by_topic.items(), key=lambda kv: -kv[1])),
    }


async def latency(
    app: recovery.BenchApp, url: str, rate: float, seconds: float, name: str = "latency"
) -> dict:
    """Orders through `POST /v1/orders` at `rate`: POST-to-terminal-event percentiles (ms).

    The figures are named `<name>_asked`, `<name>_rate`, `<name>_p99_ms` and so on.
    """
    orders = int(rate * seconds)
    watching = asyncio.create_task(watch.first_seen(
        app.bootstrap, app.topic("orders"), orders, 600 + seconds, watch.is_decided,
        "decided orders"))
    await asyncio.sleep(1)
    print(f"latency: {orders:,} orders through POST /v1/orders at {rate:,.0f}/s ...", flush=True)
    sent_at: dict[str, float] = {}
    summary = await load.run(
        load.HttpTarget(url, concurrency=512), load.Workload.standard(orders), rate, 512,
        on_send=lambda order: sent_at.__setitem__(order["id"], time.monotonic()),
    )
    decided = await watching
    millis = [(decided[i] - sent_at[i]) * 1000 for i in sent_at if i in decided]
    return {f"{name}_asked": rate, f"{name}_rate": summary["orders_per_s"],
            f"{name}_orders": orders,
            **{f"{name}_p{p}_ms": percentile(millis, p) for p in (50, 95, 99)}}


async def run(bootstrap: str, registry_url: str, root, orders: int, latency_rate: float, latency_s: float,
              floor_messages: int) -> dict:
    print(f"floor: {floor_messages:,} messages through a raw consume -> produce loop ...", flush=True)
    figures = {"raw_pipe_msgs_per_s": await floor(bootstrap, floor_messages)}
    app = recovery.BenchApp(bootstrap, registry_url, root)
    worker = app.worker("pipeline", free_port())
    recovery.timed_start(worker)
    try:
        figures.update(await throughput(app, worker, orders))
        # What an order takes when the worker keeps up: at half what it completes.
        light = figures["completed_orders_per_s"] / 2
        figures.update(await latency(app, worker.url, light, latency_s, "light_latency"))
        await watch.drained(worker.url)
        figures.update(await latency(app, worker.url, latency_rate, latency_s))
        figures["worker_rss_mb"] = recovery.rss_mb(worker)
    finally:
        worker.stop()
    return figures


def report(figures: dict, orders: int) -> list[tuple[str, str]]:
    return [
        (f"throughput, one worker ({orders:,} orders and payments straight to Kafka)",
         f"{figures['orders_per_s']:,.0f} validated orders/s (steady window)"),
        ("completed, end to end (every order validated, joined with its payment, emailed)",
         f"{figures['completed_orders_per_s']:,.0f} orders/s; goal 1,000"),
        ("worker CPU per completed order (user + system, same run)",
         f"{figures['worker_cpu_ms_per_order']:.2f} ms"),
        (f"latency through POST /v1/orders, asked {figures['latency_asked']:,.0f}/s "
         f"({figures['latency_orders']:,} orders)",
         f"took {figures['latency_rate']:,.0f}/s; POST to terminal event p50 "
         f"{figures['latency_p50_ms']:,.0f} ms, p95 {figures['latency_p95_ms']:,.0f} ms, p99 "
         f"{figures['latency_p99_ms']:,.0f} ms; goal p99 <= 250 ms at 300/s"),
        (f"latency through POST /v1/orders at half the completed rate, "
         f"{figures['light_latency_asked']:,.0f}/s ({figures['light_latency_orders']:,} orders)",
         f"took {figures['light_latency_rate']:,.0f}/s; POST to terminal event p50 "
         f"{figures['light_latency_p50_ms']:,.0f} ms, p95 {figures['light_latency_p95_ms']:,.0f} "
         f"ms, p99 {figures['light_latency_p99_ms']:,.0f} ms"),
        ("floor: raw aiokafka consume -> produce on the same broker",
         f"{figures['raw_pipe_msgs_per_s']:,.0f} messages/s"),
        ("Kafka messages per order (every topic of the app, changelogs included; goal 12)",
         f"{figures['events_per_order']:.1f}: " + ", ".join(
             f"{name} {per:.2f}" for name, per in figures["events_per_order_by_topic"].items())),
        ("worker RSS at the end", f"{figures['worker_rss_mb']:.0f} MiB"),
    ]
