"""`make bench` in small: the pipeline benchmark runs end to end on the session's broker and ends
with its JSON line. It asserts nothing about speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from aiokafka.admin import AIOKafkaAdminClient

FIGURES = ("orders_per_s", "completed_orders_per_s", "light_latency_p99_ms", "latency_rate",
           "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "raw_pipe_msgs_per_s",
           "events_per_order", "worker_rss_mb", "worker_cpu_ms_per_order")


async def test_the_pipeline_benchmark_runs_and_ends_with_its_figures_as_json(
    kafka, registry, tmp_path
):
    output = tmp_path / "BENCHMARKS.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "pipeline", "--orders", "300", "--latency-rate", "20",
         "--latency-seconds", "5", "--floor-messages", "2000", "--output", str(output)],
        env={**os.environ, "KAFKA_BOOTSTRAP": kafka.bootstrap, "SCHEMA_REGISTRY_URL": registry},
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(figures[name] > 0 for name in FIGURES), figures
    assert figures["events_per_order"] > 7  # an order is many records: commands, events, state
    assert figures["events_per_order_by_topic"]["orders"] == 2  # CREATED, then its outcome
    assert "## Pipeline:" in output.read_text()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:  # the floor's scratch topics are gone: a shared cluster keeps no litter
        assert not [t for t in await admin.list_topics() if t.startswith("floor-")]
    finally:
        await admin.close()
