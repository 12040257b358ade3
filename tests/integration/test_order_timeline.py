"""An order's timeline through the real broker: `GET /v1/orders/{id}/timeline` tells the same
story as `make trace` reads from the log, in offset order, with the email from the worker that
owns the customer, and nothing of another order."""

from __future__ import annotations

import asyncio
import re
import subprocess
from itertools import count

from app.partitioning import partition_of
from app.processes import faust_command
from tests.integration.api import (
    new_customer, new_product, outcome, pay, place, put_customer, set_stock, split_between,
)
from tests.integration.conftest import eventually, unique


async def traced(app, order_id: str) -> list[tuple[str, int, int, str]]:
    """(topic, partition, offset, summary) of each line `faust -A app trace` prints."""
    run = await asyncio.to_thread(
        subprocess.run, faust_command("trace", order_id), env=app.workers[0].environment,
        capture_output=True, text=True, timeout=60, check=True)
    lines = []
    for line in run.stdout.splitlines():
        _, topic, where, said = line.split(maxsplit=3)
        partition, offset = where.split("@")
        lines.append((topic, int(partition), int(offset), re.sub(r"\s+\[schema \d+\]$", "", said)))
    return lines


async def test_a_timeline_is_the_orders_trace_with_its_email_from_the_customers_worker(
    new_app, http, tmp_path
):
    app = new_app()
    first, second = app.add_worker(), app.add_worker()

    first_owns, _ = await split_between(http, app, first, second)
    # An order the first worker owns, for a customer the second one owns: the email is asked for.
    customer = next(c for c in (new_customer() for _ in count())
                    if partition_of(str(c), 4) not in first_owns)
    order_id = next(o for o in (unique() for _ in count()) if partition_of(o, 4) in first_owns)
    other_id = next(o for o in (unique() for _ in count()) if partition_of(o, 4) == partition_of(order_id, 4))

    await put_customer(http, first.url, customer)
    product = new_product()
    await set_stock(http, first.url, product, 10)
    for placed in (order_id, other_id):  # the other order shares the first one's partitions
        await place(http, first.url, product=product, customer=customer, order_id=placed)
        assert (await outcome(http, first.url, placed))["state"] == "VALIDATED"
    await pay(http, second.url, order_id, 5.0)

    async def with_email():
        async with http.get(f"{second.url}/v1/orders/{order_id}/timeline") as answer:
            assert answer.status == 200, await answer.text()
            timeline = await answer.json()
        return timeline if timeline["events"][-1]["topic"] == "emails" else None

    timeline = await eventually(with_email)
    events = [(e["topic"], e["partition"], e["offset"], e["summary"]) for e in timeline["events"]]
    assert sorted(events) == sorted(await traced(app, order_id))
    assert timeline["dropped"] == 0
    for topic in {event[0] for event in events}:
        offsets = [offset for name, _, offset, _ in events if name == topic]
        assert offsets == sorted(offsets), topic
    story = [summary.split()[0] for _, _, _, summary in events]
    assert story[:2] == ["place", "CREATED"] and story[-2:] == ["payment", "email"]
    assert "VALIDATED" in story
    assert events[-1][1] == partition_of(str(customer), 4)  # from the customer's partition

    async with http.get(f"{first.url}/v1/orders/{other_id}/timeline") as answer:
        other = await answer.json()
    assert [e["topic"] for e in other["events"]][-1] != "emails"  # not paid: no email
    assert not {(e["topic"], e["offset"]) for e in other["events"]
                if e["topic"] in ("order-requests", "orders")} & {(t, o) for t, _, o, _ in events}

    async with http.get(f"{first.url}/v1/orders/{unique()}/timeline") as answer:
        assert answer.status == 404
