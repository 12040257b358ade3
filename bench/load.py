"""Load generator: orders and their payments, over HTTP or straight to Kafka.

    python -m bench.load --orders 10000 --customers 100 --products 10 --rate 300
    python -m bench.load --via kafka --bootstrap 127.0.0.1:9092 --rate max
    python -m bench.load --dashboard

`--dashboard` is a run to watch on the dashboard (`GET /` of `--url`, printed at the start): 20
orders a second unless `--rate` says otherwise, and one order in ten with quantity 0, which the
order-details check fails (and which is not paid).

Before the orders it stocks every product (enough for every order) and stores every customer, so
the orders validate unless a rule says otherwise. `--rate max` sends as fast as the system takes
them (over HTTP: `--concurrency` requests in flight). Over Kafka it writes PlaceOrder commands to
`order-requests`, as `POST /v1/orders` does, and payments to `payments`, framed with the ids of
their schemas in the registry (`--registry`). It prints a progress line
and, at the end, a summary (as one JSON object with `--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

import aiohttp
from aiokafka import AIOKafkaProducer

from app import topics
from app.kafka_clients import options_for
from app.schemas import Schemas
from app.settings import local_registry_url


@dataclass(frozen=True)
class Workload:
    orders: int
    customers: int
    products: int
    #: Ids start with this, so runs on one app do not collide.
    prefix: str = field(default_factory=lambda: f"load-{uuid.uuid4().hex[:6]}")
    #: The first customer id; customers are first .. first + customers - 1.
    first_customer: int = 1_000_000
    #: Every this many orders, one has quantity 0 and no payment (it FAILS); None: none.
    failing_every: int | None = None

    @classmethod
    def standard(cls, orders: int) -> Workload:
        """The benchmarks' workload: `orders` over 200 customers and 20 products."""
        return cls(orders, customers=200, products=20)

    def product(self, n: int) -> str:
        return f"LOAD-{n % self.products}"

    def customer(self, n: int) -> int:
        return self.first_customer + n % self.customers

    def order(self, n: int, rng: random.Random) -> dict:
        # Small amounts: a customer's fraud session stays under the limit for thousands of orders.
        failing = self.failing_every is not None and n % self.failing_every == self.failing_every - 1
        return {
            "id": f"{self.prefix}-{n}", "customerId": self.customer(n), "product": self.product(n),
            "quantity": 0 if failing else rng.randint(1, 3), "price": round(rng.uniform(0.1, 0.5), 2),
            "createdAt": datetime.now(timezone.utc).isoformat(),
        }

    @staticmethod
    def payment(order: dict) -> dict | None:
        """The order's payment; None for an order of nothing (a payment must be over 0)."""
        if order["quantity"] < 1:
            return None
        return {"id": f"pay-{order['id']}", "orderId": order["id"], "ccy": "EUR",
                "amount": round(order["quantity"] * order["price"], 2),
                "createdAt": order["createdAt"]}

    def stock_per_product(self) -> int:
        return 3 * self.orders  # at most 3 units an order


@dataclass
class Tally:
    """What happened so far: sent, accepted, failures by reason, request latencies (HTTP)."""

    total: int
    sent: int = 0
    accepted: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1

    def rate(self) -> float:
        return self.sent / max(time.monotonic() - self.started, 1e-9)

    def summary(self) -> dict:
        elapsed = time.monotonic() - self.started
        summary = {"orders": self.total, "sent": self.sent, "accepted": self.accepted,
                   "failures": self.failures, "seconds": round(elapsed, 2),
                   "orders_per_s": round(self.sent / elapsed, 1) if elapsed else 0.0}
        if self.latencies_ms:
            for p in (50, 95, 99):
                summary[f"post_p{p}_ms"] = round(percentile(self.latencies_ms, p), 1)
        return summary


def percentile(values: list[float], p: int) -> float:
    """The nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * p / 100) - 1, 0)]


class HttpTarget:
    """`POST /v1/orders`, then `POST /v1/payments` once the order is placed."""

    def __init__(self, url: str, concurrency: int, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=60),
            headers={"Authorization": f"Bearer {token}"} if token else None,
        )

    async def prepare(self, workload: Workload) -> None:
        for n in range(workload.products):
            await self._expect(200, "PUT", f"/v1/inventory/{workload.product(n)}",
                               {"stock": workload.stock_per_product()})
        for n in range(workload.customers):
            customer = workload.customer(n)
            await self._expect(200, "PUT", f"/v1/customers/{customer}", {
                "firstName": "Load", "lastName": f"Customer{customer}", "level": "silver",
                "email": f"load-{customer}@example.com", "address": "1 Load Road",
            })

    async def send(self, order: dict, tally: Tally) -> None:
        started = time.monotonic()
        try:
            async with self.session.post(f"{self.url}/v1/orders", json=order) as response:
                await response.read()
                status = response.status
            if status != 201:
                tally.fail(f"order {status}")
                return
            tally.latencies_ms.append((time.monotonic() - started) * 1000)
            tally.accepted += 1
            payment = Workload.payment(order)
            if payment is None:
                return
            async with self.session.post(f"{self.url}/v1/payments", json=payment) as response:
                await response.read()
                if response.status != 201:
                    tally.fail(f"payment {response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            tally.fail(type(error).__name__)

    async def _expect(self, status: int, method: str, path: str, body: dict) -> None:
        async with self.session.request(method, self.url + path, json=body) as response:
            if response.status != status:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")

    async def close(self) -> None:
        await self.session.close()


class KafkaTarget:
    """PlaceOrder commands to `order-requests` and payments to `payments`, keyed as the API keys them."""

    def __init__(self, bootstrap: str, registry_url: str, topic_prefix: str) -> None:
        self.prefix = topic_prefix
        self.producer = AIOKafkaProducer(**options_for(bootstrap), acks="all", linger_ms=5,
                                         max_batch_size=256 * 1024)
        #: Records are framed with their schema ids, as the app writes them.
        self.schemas = Schemas.of(registry_url, topic_prefix, [
            topics.warehouse_inventory, topics.customers, topics.order_requests, topics.payments])

    async def prepare(self, workload: Workload) -> None:
        await self.schemas.register()
        await self.schemas.close()
        await self.producer.start()
        for n in range(workload.products):
            await self._send("warehouse-inventory", workload.product(n),
                             str(workload.stock_per_product()).encode())
        for n in range(workload.customers):
            customer = workload.customer(n)
            await self._send("customers", str(customer), json.dumps({
                "id": customer, "firstName": "Load", "lastName": f"Customer{customer}",
                "email": f"load-{customer}@example.com", "address": "1 Load Road", "level": "silver",
            }).encode())
        await self.producer.flush()

    async def send(self, order: dict, tally: Tally) -> None:
        command = {"requestId": uuid.uuid4().hex, "order": {**order, "state": "CREATED"}}
        await self._send("order-requests", order["id"], json.dumps(command).encode())
        payment = Workload.payment(order)
        if payment is not None:
            await self._send("payments", payment["id"], json.dumps(payment).encode())
        tally.accepted += 1  # counted when handed to the producer; `close` waits for the acks

    async def _send(self, topic: str, key: str, value: bytes) -> None:
        name = self.prefix + topic
        await self.producer.send(name, key=key.encode(), value=self.schemas.frame(name, value))

    async def close(self) -> None:
        await self.producer.stop()  # flushes: every record sent is acknowledged


async def run(target, workload: Workload, rate: float | None, concurrency: int,
              progress: Callable[[Tally], None] = lambda tally: None, seed: int = 1,
              on_send: Callable[[dict], None] = lambda order: None) -> dict:
    """Send the workload at `rate` orders/s (None: as fast as possible); returns the summary.

    `on_send(order)` is called as each order leaves (the latency benchmark times from there).
    """
    rng = random.Random(seed)
    tally = Tally(total=workload.orders)
    in_flight: set[asyncio.Task] = set()
    limit = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        try:
            order = workload.order(n, rng)
            on_send(order)
            await target.send(order, tally)
        finally:
            limit.release()

    reporter = None
    try:
        await target.prepare(workload)
        tally.started = time.monotonic()
        reporter = asyncio.create_task(_report(tally, progress))
        for n in range(workload.orders):
            if rate is not None:  # open loop: order n leaves at its time, whatever came back
                await asyncio.sleep(max(0.0, tally.started + n / rate - time.monotonic()))
            await limit.acquire()
            task = asyncio.create_task(one(n))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            tally.sent += 1
        await asyncio.gather(*in_flight)
    finally:
        if reporter is not None:
            reporter.cancel()
        await target.close()  # over Kafka: waits until every record sent is acknowledged
    progress(tally)
    return tally.summary()


async def _report(tally: Tally, progress: Callable[[Tally], None]) -> None:
    while True:
        progress(tally)
        await asyncio.sleep(0.5)


def progress_bar(tally: Tally, width: int = 30) -> None:
    done = tally.sent / tally.total if tally.total else 1.0
    bar = "#" * int(done * width)
    failed = sum(tally.failures.values())
    print(f"\r[{bar:<{width}}] {tally.sent:,}/{tally.total:,} orders  {tally.rate():,.0f}/s  "
          f"accepted {tally.accepted:,}  failed {failed:,}", end="", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--via", choices=("http", "kafka"), default="http")
    parser.add_argument("--url", default="http://127.0.0.1:6066",
                        help="a worker (--via http; its dashboard with --dashboard)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="the cluster (--via kafka)")
    parser.add_argument("--topic-prefix", default="", help="the app's TOPIC_PREFIX (--via kafka)")
    parser.add_argument("--registry", default=local_registry_url(8081),
                        help="the schema registry's Confluent-compatible URL (--via kafka)")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--products", type=int, default=10)
    parser.add_argument("--rate", help="orders per second, or max (the default; 20 with --dashboard)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight at most")
    parser.add_argument("--token", default=os.environ.get("API_TOKEN") or None,
                        help="the workers' API_TOKEN (default: $API_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    parser.add_argument("--dashboard", action="store_true",
                        help="a run to watch: 20/s, one order in ten failing; prints the dashboard's URL")
    args = parser.parse_args(argv)
    chosen = args.rate or ("20" if args.dashboard else "max")
    rate = None if chosen == "max" else float(chosen)
    workload = Workload(args.orders, args.customers, args.products,
                        failing_every=10 if args.dashboard else None)
    if args.dashboard:
        print(f"Watch it on the dashboard: {args.url.rstrip('/')}/ "
              f"({args.orders:,} orders at {chosen}/s)", file=sys.stderr)

    async def send() -> dict:
        # Clients belong to the event loop that uses them: made here, inside it.
        target = (HttpTarget(args.url, args.concurrency, args.token) if args.via == "http"
                  else KafkaTarget(args.bootstrap, args.registry, args.topic_prefix))
        return await run(target, workload, rate, args.concurrency, progress_bar)

    summary = asyncio.run(send())
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>14}: {value}")
    return 0 if summary["accepted"] == summary["orders"] else 1


if __name__ == "__main__":
    sys.exit(main())
