"""Soak: one worker under a steady load for minutes. Does its memory grow? Does lag stay bounded?

Orders and their payments go straight to Kafka (`order-requests` and `payments`, as the API writes
them), from the load generator. The worker's maximum rate is measured first: a batch as fast as
the generator writes it, timed until every order is decided on `orders`. Then the same workload
runs at half that rate. Every SAMPLE_S the worker's RSS and its consumer lag (from
`GET /metrics`) are sampled. Growth is measured from the RSS after the first minute (caches and
the stores' write buffers fill first) to the RSS at the end.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp

from app.broker import free_port
from bench import load, recovery

SAMPLE_S = 10.0
WARM_UP_S = 60.0
MAX_RATE_ORDERS = 3_000
_LAG = re.compile(r'^consumer_lag\{topic="[^"]*"\} (\S+)$', re.MULTILINE)


async def consumer_lag(http: aiohttp.ClientSession, url: str) -> float:
    """The worker's consumer lag summed over its input topics."""
    async with http.get(f"{url}/metrics") as response:
        return sum(float(value) for value in _LAG.findall(await response.text()))


async def soak(bootstrap: str, root: Path, minutes: float) -> dict:
    app = recovery.BenchApp(bootstrap, root)
    worker = app.worker("soak", free_port())
    recovery.timed_start(worker)
    try:
        print(f"maximum rate: {MAX_RATE_ORDERS:,} orders as fast as they come ...", flush=True)
        started = time.monotonic()
        await load.run(app.kafka_target(), load.Workload.standard(MAX_RATE_ORDERS), None, 256)
        finished = await recovery.terminal_events(app, MAX_RATE_ORDERS, timeout=900)
        max_rate = MAX_RATE_ORDERS / (finished - started)
        await _drained(worker)  # the soak starts from no backlog
        rate = max_rate / 2
        orders = int(rate * minutes * 60)
        print(f"soak: {orders:,} orders at {rate:.0f}/s ({minutes:g} min) ...", flush=True)
        samples: list[tuple[float, float, float]] = []
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


async def _drained(worker, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while await consumer_lag(http, worker.url) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker's lag did not drain within {timeout:.0f}s")
            await asyncio.sleep(1)


async def _sample(worker, samples: list) -> None:
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while True:
            lag = await consumer_lag(http, worker.url)
            samples.append((time.monotonic() - started, recovery.rss_mb(worker), lag))
            await asyncio.sleep(SAMPLE_S)


def _growth(samples: list[tuple[float, float, float]]) -> dict:
    warm = next(rss for at, rss, _ in samples if at >= WARM_UP_S)
    end = samples[-1][1]
    return {"rss_warm_mb": warm, "rss_end_mb": end, "rss_growth_pct": 100 * (end - warm) / warm,
            "lag_max": max(lag for *_, lag in samples), "lag_end": samples[-1][2]}


def report(figures: dict) -> list[tuple[str, str]]:
    summary = figures["load"]
    return [
        ("maximum rate, one worker (orders and payments straight to Kafka)",
         f"{figures['max_rate']:,.0f} orders/s"),
        (f"soak load ({figures['minutes']:g} min, orders and payments straight to Kafka)",
         f"{summary['orders_per_s']:,.0f} orders/s; {summary['orders']:,} orders"),
        ("worker RSS after the first minute -> at the end",
         f"{figures['rss_warm_mb']:.0f} MiB -> {figures['rss_end_mb']:.0f} MiB "
         f"({figures['rss_growth_pct']:+.1f}%; goal under +10%)"),
        ("consumer lag, all input topics", f"at most {figures['lag_max']:,.0f} records; "
         f"{figures['lag_end']:,.0f} at the end"),
    ]


def samples_table(samples: list[tuple[float, float, float]]) -> str:
    rows = [f"| {at / 60:.1f} | {rss:.0f} | {lag:,.0f} |" for at, rss, lag in samples[::6]]
    return "| minute | RSS MiB | lag |\n|---|---|---|\n" + "\n".join(rows)
