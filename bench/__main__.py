"""`python -m bench [pipeline]` (what `make bench` runs), `python -m bench recovery`
(`make bench-recovery`) and `python -m bench soak` (`make soak`).

Starts a local broker and schema registry in a temporary folder (or uses KAFKA_BOOTSTRAP and
SCHEMA_REGISTRY_URL), runs the benchmarks on
fresh app ids, appends the figures to BENCHMARKS.md with the machine and the command, and prints
them as one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from app.broker import LocalBroker, free_port, free_port_pair
from app.registry import LocalRegistry
from app.settings import Settings
from bench import pipeline, recovery, soak

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


async def run(bootstrap: str, registry_url: str, root: Path, keys: int, tail: int,
              orders: int) -> dict:
    figures: dict = {"keys": keys, "tail": tail, "orders": orders}

    idle = recovery.BenchApp(bootstrap, registry_url, root).worker("idle", free_port())
    recovery.timed_start(idle)
    figures["idle_rss_mb"] = recovery.rss_mb(idle)
    idle.stop()

    big = recovery.BenchApp(bootstrap, registry_url, root)
    print(f"writing {keys:,} keys to the order_states changelog ...", flush=True)
    figures["fill_s"] = await recovery.fill_changelog(big, "order_states", range(keys))
    worker = big.worker("restored", free_port())
    print("cold restore ...", flush=True)
    figures["cold_ready_s"] = recovery.timed_start(worker)
    figures["cold_restore_s"] = recovery.restore_seconds(worker.log_file.read_text())
    await recovery.check_restored(worker, keys)
    figures["restored_rss_mb"] = recovery.rss_mb(worker)
    worker.stop()
    print(f"warm restart after {tail:,} more keys ...", flush=True)
    await recovery.fill_changelog(big, "order_states", range(keys, keys + tail))
    log_length = len(worker.log_file.read_text())
    figures["warm_ready_s"] = recovery.timed_start(worker)
    figures["warm_restore_s"] = recovery.restore_seconds(worker.log_file.read_text()[log_length:])
    await recovery.check_restored(worker, keys + tail)
    worker.stop()

    three = recovery.BenchApp(bootstrap, registry_url, root)
    await recovery.fill_changelog(three, "order_states", range(tail))
    workers = [three.worker(f"k{n}", free_port()) for n in range(3)]
    print(f"one of 3 workers SIGKILLed ({tail:,} keys, standbys on) ...", flush=True)
    try:
        figures["served_again_s"] = await recovery.served_again_after_kill(three, tail, workers)
    finally:
        for worker in workers:
            worker.stop()

    for count in (1, 2):
        app = recovery.BenchApp(bootstrap, registry_url, root)
        workers = [app.worker(f"w{n}", free_port()) for n in range(count)]
        print(f"throughput with {count} worker(s), {orders:,} orders ...", flush=True)
        try:
            figures[f"orders_per_s_{count}_workers"] = await recovery.throughput(app, workers, orders)
        finally:
            for worker in workers:
                worker.stop()
    return figures


def recovery_report(figures: dict, command: str) -> str:
    keys, per_million = figures["keys"], 1_000_000 / figures["keys"]
    cold, warm = figures["cold_restore_s"], figures["warm_restore_s"]
    grown = figures["restored_rss_mb"] - figures["idle_rss_mb"]
    rows = [
        (f"cold restore of {keys:,} keys (`order_states`, empty DATA_DIR)",
         f"{figures['cold_ready_s']:.1f} s to ready; restore {cold:.1f} s = "
         f"{keys / cold:,.0f} records/s" if cold else f"{figures['cold_ready_s']:.1f} s to ready"),
        (f"warm restart (same DATA_DIR; {figures['tail']:,} keys written while it was down)",
         f"{figures['warm_ready_s']:.1f} s to ready; restore {warm:.1f} s = "
         f"{figures['tail'] / warm:,.0f} records/s" if warm
         else f"{figures['warm_ready_s']:.1f} s to ready; no changelog left to read"),
        (f"served again after a SIGKILL (3 workers, standbys on, {figures['tail']:,} keys)",
         f"{figures['served_again_s']:.1f} s (SESSION_TIMEOUT_S {Settings.from_env().session_timeout_s})"),
        (f"worker RSS with {keys:,} keys", f"{figures['restored_rss_mb']:.0f} MiB "
         f"(idle worker {figures['idle_rss_mb']:.0f} MiB)"),
        ("worker memory per 1,000,000 keys", f"{grown * per_million:.0f} MiB"),
        (f"throughput, one worker ({figures['orders']:,} orders)",
         f"{figures['orders_per_s_1_workers']:,.0f} orders/s"),
        (f"throughput, two workers ({figures['orders']:,} orders)",
         f"{figures['orders_per_s_2_workers']:,.0f} orders/s"),
    ]
    return section("Recovery and scale-out", command, rows,
                   f"Writing the changelog took {figures['fill_s']:.1f} s (not counted).")


def pipeline_report(figures: dict, command: str, orders: int) -> str:
    return section("Pipeline", command, pipeline.report(figures, orders))


def soak_report(figures: dict, command: str) -> str:
    return section("Soak", command, soak.report(figures),
                   after="Samples (every minute):\n\n" + soak.samples_table(figures["samples"]))


def section(title: str, command: str, rows: list[tuple[str, str]], note: str = "",
            after: str = "") -> str:
    """A BENCHMARKS.md section: when, which commit, on what machine, the command, the figures."""
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"""
## {title}: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {_commit()}

Machine: {_cpu()}, {os.cpu_count()} cores, {_memory_gib():.0f} GiB RAM, Python {platform.python_version()};
the broker (Kafka 4.3.1, local) and the workers on the same machine.
Command: `{command}`. {note}

| figure | value |
|---|---|
{table}

{after}
"""


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("pipeline", "recovery", "soak"),
                        default="pipeline")
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys in the restored table")
    parser.add_argument("--tail", type=int, default=100_000,
                        help="keys written while the worker is down, before the warm restart")
    parser.add_argument("--orders", type=int, default=5_000, help="orders per throughput run")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    parser.add_argument("--latency-rate", type=float, default=300.0,
                        help="orders/s through POST /v1/orders for the latency figures")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--floor-messages", type=int, default=100_000,
                        help="messages through the raw consume -> produce floor")
    parser.add_argument("--output", type=Path, default=BENCHMARKS,
                        help="the file the section is appended to")
    args = parser.parse_args()
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="faust-orders-bench-") as folder:
        root = Path(folder)
        broker = None if settings.kafka_bootstrap else LocalBroker(
            port=free_port_pair(), data_dir=root / "kafka", cache_dir=settings.kafka_cache_dir,
            heap_mb=settings.kafka_heap_mb,
        )
        with broker or nullcontext():
            bootstrap = settings.kafka_bootstrap or broker.bootstrap_servers
            registry = None if settings.schema_registry_url else LocalRegistry(
                port=free_port_pair(), bootstrap=bootstrap, log_dir=root / "registry",
                cache_dir=settings.kafka_cache_dir,
            )
            with registry or nullcontext():
                registry_url = settings.schema_registry_url or registry.url
                if args.mode == "pipeline":
                    figures = asyncio.run(pipeline.run(
                        bootstrap, registry_url, root, args.orders, args.latency_rate,
                        args.latency_seconds, args.floor_messages,
                    ))
                elif args.mode == "soak":
                    figures = asyncio.run(soak.soak(bootstrap, registry_url, root, args.minutes))
                else:
                    figures = asyncio.run(run(bootstrap, registry_url, root, args.keys, args.tail,
                                              args.orders))
    if args.mode == "pipeline":
        written = pipeline_report(figures, (
            f"make bench (python -m bench --orders {args.orders} --latency-rate "
            f"{args.latency_rate:g} --latency-seconds {args.latency_seconds:g} "
            f"--floor-messages {args.floor_messages})"), args.orders)
    elif args.mode == "soak":
        written = soak_report(figures, f"make soak (python -m bench soak --minutes {args.minutes:g})")
    else:
        written = recovery_report(figures, f"make bench-recovery (python -m bench recovery "
                                           f"--keys {args.keys} --tail {args.tail} "
                                           f"--orders {args.orders})")
    if not args.output.exists():
        args.output.write_text("# Benchmarks\n\nEach `make bench` or `make soak` run appends a section.\n")
    with args.output.open("a") as out:
        out.write(written)
    print(written)
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value
                      for key, value in figures.items() if key != "samples"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
