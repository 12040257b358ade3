"""Orders and payments streamed through a worker while something breaks (a worker, a broker),
and the promises checked afterwards from the topics themselves, not from what the API said:
- every order placed (CREATED on `orders`) has exactly one terminal event, VALIDATED or FAILED;
- every POST answered 201 is among them;
- every worker's query side (`GET /v1/orders/{id}`) answers each order's terminal state;
- reserved stock equals the quantities of orders that passed the inventory check and did not
  end FAILED, and never exceeds the stock;
- no order gets a second email, and every paid VALIDATED order gets its one;
- every view equals what its source topic says (`faust -A app check`);
- every worker goes on committing: its last commit ended less than three commit intervals ago
  (30 s at least). A worker whose commits hang goes on processing, so this is seen nowhere else
  until a rebalance holds its outcomes back.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter, defaultdict
from typing import Awaitable, Callable

from app.settings import Settings
from app.trace import trace_order
from tests.integration.api import inventory, new_product, pay, put_customer, set_stock
from tests.integration.conftest import (
    OrdersApp, assert_views_consistent, eventually, eventually_nothing_wrong, unique,
)

#: One product runs out during the run; the other never does.
SCARCE_STOCK, PLENTIFUL_STOCK = 30, 100_000
#: Every tenth order is over the fraud limit, for a customer of its own (so only it fails).
FRAUD_EVERY = 10


class OrderStream:
    """Orders (each paid once accepted) placed through the worker at `url`."""

    def __init__(self, app: OrdersApp, http, url: str) -> None:
        self.app, self.http, self.url = app, http, url
        self.accepted: list[str] = []
        self.refused: Counter[int] = Counter()

    async def prepare(self) -> None:
        self.scarce, self.plentiful = new_product(), new_product()
        await set_stock(self.http, self.url, self.scarce, SCARCE_STOCK)
        await set_stock(self.http, self.url, self.plentiful, PLENTIFUL_STOCK)
        self.customers = [random.randint(10_000, 10_000_000) for _ in range(20)]
        for customer in self.customers:
            await put_customer(self.http, self.url, customer)

    async def run(self, orders: int, rate_per_s: float,
                  before: Callable[[int], Awaitable[None]]) -> None:
        """Place `orders` orders at `rate_per_s`; `await before(n)` first for each (what breaks
        when), and wait for every answer."""
        placing = []
        for n in range(orders):
            await before(n)
            placing.append(asyncio.create_task(self._place_and_pay(n)))
            await asyncio.sleep(1 / rate_per_s)
        await asyncio.gather(*placing)

    async def _place_and_pay(self, n: int) -> None:
        fraud = n % FRAUD_EVERY == 0
        body = {
            "id": unique("stream"),
            "customerId": random.randint(10_000_000, 20_000_000) if fraud else self.customers[n % 20],
            "product": self.scarce if n % 2 else self.plentiful,
            "quantity": random.randint(1, 3),
            "price": 2500.0 if fraud else round(random.uniform(5, 20), 2),
        }
        async with self.http.post(f"{self.url}/v1/orders", json=body,
                                  params={"timeout": 30000}) as answer:
            if answer.status != 201:
                self.refused[answer.status] += 1
                return
        self.accepted.append(body["id"])
        await pay(self.http, self.url, body["id"], body["quantity"] * body["price"])

    async def check_promises(self, workers: list) -> None:
        """Every promise in this module's docstring, awaited where the pipeline is still busy."""
        app, http = self.app, self.http

        async def events_by_order() -> dict[str, list[dict]] | None:
            events = defaultdict(list)
            for key, value in await app.read_topic("orders"):
                events[key.decode()].append(json.loads(value))
            undecided = [i for i, e in events.items() if all(o["state"] == "CREATED" for o in e)]
            return None if undecided else events

        try:
            events = await eventually(events_by_order, timeout=120, interval=1)
        except AssertionError:
            raise AssertionError(await explain_undecided(app, http, workers)) from None
        assert set(self.accepted) <= set(events)
        terminal = {}
        for order_id, history in events.items():
            outcomes = [order for order in history if order["state"] in ("VALIDATED", "FAILED")]
            assert len(outcomes) == 1, (order_id, history)
            terminal[order_id] = outcomes[0]

        async def query_side_disagreements() -> list[str]:
            wrong = []
            for worker in workers:
                for order_id, order in terminal.items():
                    async with http.get(f"{worker.url}/v1/orders/{order_id}") as answer:
                        found = (answer.status, (await answer.json()).get("state"))
                    if found != (200, order["state"]):
                        wrong.append(f"{worker.url} {order_id}: {found}, want {order['state']}")
            return wrong

        await eventually_nothing_wrong(
            query_side_disagreements, "the query side disagrees with `orders`", timeout=30,
            interval=1)

        inventory_results = {}
        for key, value in await app.read_items("order-validations"):
            validation = json.loads(value)
            if validation["checkType"] == "INVENTORY_CHECK":
                inventory_results.setdefault(key.decode(), validation["validationResult"])
        expected_reserved = Counter()
        for order_id, order in terminal.items():
            if inventory_results.get(order_id) == "PASS" and order["state"] != "FAILED":
                expected_reserved[order["product"]] += order["quantity"]
        for product, stock in ((self.scarce, SCARCE_STOCK), (self.plentiful, PLENTIFUL_STOCK)):
            levels = await inventory(http, self.url, product)
            assert levels["reserved"] == expected_reserved[product], (product, levels)
            assert levels["reserved"] <= stock
        assert expected_reserved[self.scarce] > SCARCE_STOCK - 3  # the scarce product did run out
        states = Counter(order["state"] for order in terminal.values())
        assert states["VALIDATED"] and states["FAILED"], states

        paid_and_validated = {i for i in self.accepted if terminal[i]["state"] == "VALIDATED"}

        async def emails_per_order() -> Counter | None:
            sent = Counter(key.decode() for key, _ in await app.read_topic("emails"))
            return sent if paid_and_validated <= set(sent) else None

        sent = await eventually(emails_per_order, timeout=60, interval=1)
        assert max(sent.values()) == 1, [i for i, count in sent.items() if count > 1]
        assert set(sent) <= {i for i, order in terminal.items() if order["state"] == "VALIDATED"}
        await assert_views_consistent(workers[0])
        await assert_still_committing(app, http, workers)


async def assert_still_committing(app: OrdersApp, http, workers) -> None:
    interval = app.worker_settings.commit_interval_s
    for worker in workers:
        async with http.get(f"{worker.url}/metrics") as response:
            [age] = re.findall(r"^consumer_commit_age_seconds (\S+)$", await response.text(),
                               re.MULTILINE)
        assert float(age) < max(3 * interval, 30), (
            f"{worker.url} has not finished a commit for {float(age):.0f} s",
            warnings_in(worker.log_file))


async def explain_undecided(app: OrdersApp, http, workers) -> str:
    """Why orders have no outcome on `orders`: the trace of a few, and what each worker reports."""
    states = defaultdict(set)
    for key, value in await app.read_topic("orders"):
        states[key.decode()].add(json.loads(value)["state"])
    undecided = sorted(order_id for order_id, seen in states.items() if seen == {"CREATED"})
    lines = [f"{len(undecided)} orders have no outcome: {undecided[:10]}"]
    settings = Settings(kafka_bootstrap=app.kafka.bootstrap, topic_prefix=app.topic_prefix)
    for order_id in undecided[:3]:
        lines += [f"trace of {order_id}:", *await trace_order(settings, order_id)]
    for worker in workers:
        async with http.get(f"{worker.url}/metrics") as response:
            text = await response.text()
        lines += [f"{worker.url}: " + "; ".join(re.findall(
            r"^((?:consumer_lag|orders_partitions_held|table_pending_writes|consumer_commit_age)"
            r"\S* \S+)$", text, re.MULTILINE))]
        lines += [f"{worker.log_file}, its last warnings and errors:", *warnings_in(worker.log_file)]
    return "\n".join(lines)


def warnings_in(log_file, last: int = 15) -> list[str]:
    """The last WARNING and ERROR lines of a worker's log (a stalled commit says where it waits)."""
    found = [line[:600] for line in log_file.read_text(errors="replace").splitlines()
             if "[WARNING]" in line or "[ERROR]" in line]
    return found[-last:]
