"""`GET /v1/events` under load: fifty clients that read and one that never does, over a minute of
orders, leave the worker's memory bounded; the one that does not read falls behind and is cut
off, and the others get their update every second."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer
from yarl import URL

from models.records import Order, OrderState, PlaceOrder
from tests.integration.api import new_product, set_stock
from tests.integration.conftest import unique

READERS = 50
SECONDS = 60
ORDERS_PER_S = 100
#: Shorter than the defaults (30 s, 10 messages), so the client that does not read falls behind
#: and is then cut off within the minute, once the kernel's buffers are full.
WRITE_TIMEOUT_S = 10
QUEUE = 3


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def read_events(session: aiohttp.ClientSession, url: str, seen: list[str],
                      sizes: list[int]) -> None:
    async with session.get(f"{url}/v1/events") as answer:
        assert answer.status == 200
        async for line in answer.content:
            if line.startswith(b"event: "):
                seen.append(line[7:].strip().decode())
            elif line.startswith(b"data: "):
                sizes.append(len(line))


async def never_read(url: str) -> socket.socket:
    """A client that asks for the stream and then takes no byte of it (a small receive window)."""
    target = URL(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (target.host, target.port))
    request = f"GET /v1/events HTTP/1.1\r\nHost: {target.host}\r\n\r\n".encode()
    await asyncio.get_running_loop().sock_sendall(sock, request)
    return sock


async def place_orders(app, product: str, seconds: float) -> int:
    schema_id = await app.schema_id("order-requests")
    producer = AIOKafkaProducer(bootstrap_servers=app.kafka.bootstrap, linger_ms=20)
    await producer.start()
    placed, start = 0, time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            while placed < elapsed * ORDERS_PER_S:
                order = Order(id=unique(), customer_id=1 + placed % 50, state=OrderState.CREATED,
                              product=product, quantity=1, price=1.0)
                command = PlaceOrder(request_id=unique("request"), order=order).to_bytes()
                await producer.send(app.topic("order-requests"), key=order.id.encode(),
                                    value=b"\x00" + schema_id.to_bytes(4, "big") + command)
                placed += 1
            await asyncio.sleep(0.05)
        await producer.flush()
    finally:
        await producer.stop()
    return placed


async def metric(http, url: str, name: str) -> float:
    async with http.get(f"{url}/metrics") as answer:
        for line in (await answer.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def test_fifty_readers_and_one_that_never_reads_leave_memory_bounded(new_app, http):
    app = new_app({"EVENT_STREAM_WRITE_TIMEOUT_S": str(WRITE_TIMEOUT_S),
                   "EVENT_STREAM_QUEUE": str(QUEUE)})
    worker = app.add_worker()
    url, product = worker.url, new_product()
    await set_stock(http, url, product, 1_000_000)
    pid = worker.process.pid

    seen, sizes = [[] for _ in range(READERS)], []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        readers = [asyncio.create_task(read_events(session, url, mine, sizes)) for mine in seen]
        slow = await never_read(url)
        try:
            load = asyncio.create_task(place_orders(app, product, SECONDS))
            await asyncio.sleep(15)  # the feed, the readers' buffers and the stock poll are warm
            warm = rss_mib(pid)
            peak = warm
            while not load.done():
                await asyncio.sleep(1)
                peak = max(peak, rss_mib(pid))
            placed = load.result()
            end = rss_mib(pid)
            resyncs = await metric(http, url, "event_stream_resyncs_total")
            stalled = await metric(http, url, "event_stream_stalled_clients_total")
            clients = await metric(http, url, "event_stream_clients")
            print(f"\n{placed} orders in {SECONDS} s; messages of {max(sizes):,} bytes at most; "
                  f"worker RSS {warm:.0f} MiB after 15 s, peak {peak:.0f}, end {end:.0f}; "
                  f"resyncs {resyncs:.0f}, stalled {stalled:.0f}, clients {clients:.0f}")
            assert resyncs >= 1 and stalled == 1  # the client that does not read, cut off
            assert clients == READERS
        finally:
            slow.close()
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    assert placed >= ORDERS_PER_S * SECONDS * 0.9
    assert peak - warm < 40, f"RSS grew from {warm:.0f} to {peak:.0f} MiB"
    for mine in seen:
        assert mine[0] == "snapshot"
        assert mine.count("update") >= SECONDS - 10  # one a second
