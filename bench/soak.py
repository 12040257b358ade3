"""Soak: one worker under a steady load for minutes. Does its memory grow? Does lag stay bounded?

Orders and their payments go straight to Kafka (`order-requests` and `payments`, as the API writes
them), from the load generator. The worker's maximum rate is measured first: a batch as fast as
the generator writes it, timed until every order's email is on `emails` (all its work done).
Then the same workload runs at half that rate. Every SAMPLE_S the worker's RSS, its consumer lag
and its tables' RocksDB memory (from `GET /metrics`) are sampled. Growth is measured from the RSS
after the first minute to the RSS at the end; the tables' share of it is their block cache and
memtables filling up to TABLE_MEMORY_MB.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from app.broker import free_port
from bench import load, pipeline, recovery, watch

SAMPLE_S = 10.0
WARM_UP_S = 60.0
MAX_RATE_ORDERS = 3_000


async def soak(bootstrap: str, registry_url: str, root: Path, minutes: float) -> dict:
    app = recovery.BenchApp(bootstrap, registry_url, root)
    worker = app.worker("soak", free_port())
    recovery.timed_start(worker)
    try:
        print(f"maximum rate: {MAX_RATE_ORDERS:,} orders as fast as they come ...", flush=True)
        # Completed orders/s; the soak then starts from no backlog.
        max_rate = (await pipeline.throughput(app, worker, MAX_RATE_ORDERS))[
            "completed_orders_per_s"]
        rate = max_rate / 2
        orders = int(rate * minutes * 60)
        print(f"soak: {orders:,} orders at {rate:.0f}/s ({minutes:g} min) ...", flush=True)
        samples: list[tuple[float, float, float, float]] = []
        sampling = asyncio.create_task(_sample(worker, samples))
        try:
            summary = await load.run(app.kafka_target(), load.Workload.standard(orders), rate, 256)
            await asyncio.sleep(2 * SAMPLE_S)  # two more samples: does the lag drain?
        finally:
            sampling.cancel()
    finally:
        worker.stop()
    return {"max_rate": max_rate, "rate": rate, "minutes": minutes, "load": summary,
            "samples": samples, **_growth(samples)}


async def _sample(worker, samples: list) -> None:
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while True:
            metrics = await watch.scrape(http, worker.url)
            samples.append((time.monotonic() - started, recovery.rss_mb(worker),
                            watch.table_memory_mb(metrics), watch.consumer_lag(metrics)))
            await asyncio.sleep(SAMPLE_S)


def _growth(samples: list[tuple[float, float, float, float]]) -> dict:
    warm, table_warm = next((rss, table) for at, rss, table, _ in samples if at >= WARM_UP_S)
    end, table_end = samples[-1][1], samples[-1][2]
    return {"rss_warm_mb": warm, "rss_end_mb": end, "rss_growth_pct": 100 * (end - warm) / warm,
            "table_warm_mb": table_warm, "table_end_mb": table_end,
            "lag_max": max(lag for *_, lag in samples), "lag_end": samples[-1][3]}


def report(figures: dict) -> list[tuple[str, str]]:
    summary = figures["load"]
    return [
        ("maximum rate, one worker (orders and payments straight to Kafka; completed orders/s)",
         f"{figures['max_rate']:,.0f} orders/s"),
        (f"soak load ({figures['minutes']:g} min, orders and payments straight to Kafka)",
         f"{summary['orders_per_s']:,.0f} orders/s; {summary['orders']:,} orders"),
        ("worker RSS after the first minute -> at the end",
         f"{figures['rss_warm_mb']:.0f} MiB -> {figures['rss_end_mb']:.0f} MiB "
         f"({figures['rss_growth_pct']:+.1f}%; goal under +10%)"),
        ("of which the tables' RocksDB memory (bounded by TABLE_MEMORY_MB)",
         f"{figures['table_warm_mb']:.1f} MiB -> {figures['table_end_mb']:.1f} MiB"),
        ("consumer lag, all input topics", f"at most {figures['lag_max']:,.0f} records; "
         f"{figures['lag_end']:,.0f} at the end"),
    ]


def samples_table(samples: list[tuple[float, float, float, float]]) -> str:
    rows = [f"| {at / 60:.1f} | {rss:.0f} | {table:.1f} | {lag:,.0f} |"
            for at, rss, table, lag in samples[::6]]
    return ("| minute | RSS MiB | table memory MiB | lag |\n|---|---|---|---|\n"
            + "\n".join(rows))
