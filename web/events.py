"""`GET /v1/events`: the dashboard's live feed, as server-sent events.

A client gets `event: snapshot` (web/feed.py: the recent orders at their latest state, bursts,
emails, the last minute of orders per second by state, stock per product) when it connects, then
`event: update` once a second with what changed. `retry: 2000` tells a browser's EventSource to
reconnect two seconds after a drop; it then gets a fresh snapshot.

The whole system, from any worker: while a client is connected, this worker reads every partition
of `orders`, `order-bursts` and `emails` with a consumer of its own (outside the group, from a few
records before the end, so the page starts with the latest orders) and asks every owner for the
stock levels every STOCK_EVERY_S. It stops reading IDLE_S after the last client leaves: a worker
nobody watches pays nothing.

No unbounded buffer for a slow client: each has a queue of at most EVENT_STREAM_QUEUE messages,
and its connection a kernel send buffer of SOCKET_BUFFER_BYTES. A client that falls that far
behind loses its queue and gets a fresh snapshot when it reads again, and one whose connection
takes no bytes for EVENT_STREAM_WRITE_TIMEOUT_S is disconnected.
Messages are encoded once a second for all clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections import deque

from aiohttp import web as aiohttp_web
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust import web

from app import metrics, topics
from app.kafka_clients import client_options
from app.main import app, settings
from app.schemas import Unreadable, unframe
from web.feed import RECENT_ALERTS, RECENT_ORDERS, Feed
from web.http import HttpError
from web.inventory import every_level
from web.routing import OwnerUnavailable

log = logging.getLogger(__name__)

#: How often the stock levels are gathered from their owners while clients watch.
STOCK_EVERY_S = 2.0
#: How long the feed keeps reading after its last client left (a page reload comes back).
IDLE_S = 30.0
#: A browser reconnects this long after losing the stream.
RETRY_MS = 2000
#: The kernel's send buffer of a stream's connection (Linux doubles it): a few seconds of
#: updates. Left to itself it grows to megabytes for a client that does not read.
SOCKET_BUFFER_BYTES = 32 * 1024


def server_sent_event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Client:
    """One connected client: the messages it has not been sent yet, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queue: deque[bytes] = deque()
        self.ready = asyncio.Event()
        #: It fell `limit` messages behind: its next message is a fresh snapshot.
        self.behind = False
        #: The worker is stopping: the stream ends.
        self.closed = False

    def offer(self, message: bytes) -> None:
        if self.behind:
            return
        if len(self.queue) >= self.limit:
            self.queue.clear()
            self.behind = True
            metrics.event_stream_resyncs.inc()
        else:
            self.queue.append(message)
        self.ready.set()

    def take(self) -> list[bytes]:
        """What to write now; a fresh snapshot for a client that fell behind."""
        self.ready.clear()
        if self.behind:
            self.behind = False
            return [server_sent_event("snapshot", hub.feed.snapshot())]
        messages = list(self.queue)
        self.queue.clear()
        return messages


class Hub:
    """The clients, the feed they share, and the reader that fills it while any is connected."""

    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.feed = Feed()
        self._reader: asyncio.Task | None = None

    def join(self) -> Client:
        client = Client(settings.event_stream_queue)
        self.clients.add(client)
        metrics.event_stream_clients.set(len(self.clients))
        if self._reader is None:
            self.feed = Feed()
            self._reader = asyncio.create_task(self._run())
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        metrics.event_stream_clients.set(len(self.clients))

    def close_all(self) -> None:
        """End every stream and the reader (the worker stops: aiohttp would wait a minute for
        the streams)."""
        for client in self.clients:
            client.closed = True
            client.ready.set()
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    def broadcast(self, message: bytes) -> None:
        for client in self.clients:
            client.offer(message)

    async def _run(self) -> None:
        """Read until no client has been connected for IDLE_S; after an error (the broker went
        away), start again in a few seconds while clients wait."""
        while True:
            try:
                await self._read()
                return
            except Exception:
                log.exception("the dashboard feed failed; it starts again in %.0f s",
                              RETRY_MS / 1000)
            if not self.clients:
                self._reader = None
                return
            await asyncio.sleep(RETRY_MS / 1000)

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        stock = asyncio.create_task(self._gather_stock())
        try:
            live_from = await _start_near_the_end(consumer)
            orders = topics.orders.get_topic_name()
            others = {topics.order_bursts.get_topic_name(): self.feed.add_burst,
                      topics.emails.get_topic_name(): self.feed.add_email}
            next_tick = int(time.time()) + 1
            idle_since: float | None = None
            while True:
                wait_ms = max(int((next_tick - time.time()) * 1000), 0)
                batches = await consumer.getmany(timeout_ms=wait_ms, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        value = _decode(record.value)
                        if value is None:
                            continue
                        if tp.topic == orders:
                            self.feed.add_order(value, live=record.offset >= live_from[tp])
                        else:
                            others[tp.topic](value)
                now = time.time()
                if now >= next_tick:
                    self.broadcast(server_sent_event("update", self.feed.tick(next_tick)))
                    next_tick = int(now) + 1
                    if self.clients:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = now
                    elif now - idle_since > IDLE_S:
                        self._reader = None  # before any await: the next client starts a reader
                        return
        finally:
            stock.cancel()
            await consumer.stop()

    async def _gather_stock(self) -> None:
        while True:
            try:
                self.feed.set_stock(await every_level(timeout=STOCK_EVERY_S))
            except OwnerUnavailable as unavailable:  # a rebalance: the last levels stay
                log.debug("stock levels not gathered: %s", unavailable.error)
            except Exception:
                log.warning("stock levels not gathered", exc_info=True)
            await asyncio.sleep(STOCK_EVERY_S)


async def _start_near_the_end(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    """Assign every partition of the feed's topics, a few records before their ends; returns the
    end of each, from where `orders` events count as live."""
    back = {topics.orders: RECENT_ORDERS, topics.order_bursts: RECENT_ALERTS,
            topics.emails: RECENT_ALERTS}
    partitions = {
        TopicPartition(topic.get_topic_name(), p): how_far
        for topic, how_far in back.items()
        for p in range(topic.partitions or settings.topic_partitions)
    }
    consumer.assign(list(partitions))
    starts = await consumer.beginning_offsets(list(partitions))
    ends = await consumer.end_offsets(list(partitions))
    for tp, how_far in partitions.items():
        consumer.seek(tp, max(starts[tp], ends[tp] - how_far))
    return ends


def _decode(value: bytes | None) -> dict | None:
    try:
        record = json.loads(unframe(value)[1])
    except (Unreadable, ValueError):
        return None  # the services dead-letter it; the page shows what it can
    return record if isinstance(record, dict) else None


hub = Hub()


async def _end_streams(_: aiohttp_web.Application) -> None:
    hub.close_all()


app.declare(lambda built: built.web.web_app.on_shutdown.append(_end_streams))


@app.page("/v1/events")
class EventsView(web.View):
    async def get(self, request: web.Request) -> aiohttp_web.StreamResponse:
        if len(hub.clients) >= settings.event_stream_max_clients:
            return HttpError(503, "too many clients of /v1/events",
                             {"max": settings.event_stream_max_clients}).response(self)
        response = aiohttp_web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # no proxy buffering of the stream
        })
        await response.prepare(request)
        connection = request.transport.get_extra_info("socket") if request.transport else None
        if connection is not None:  # the kernel's buffer for a client that does not read, too
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
        client = hub.join()
        try:
            await self._write(response, f"retry: {RETRY_MS}\n\n".encode()
                              + server_sent_event("snapshot", hub.feed.snapshot()))
            while not client.closed:
                await client.ready.wait()
                for message in client.take():
                    await self._write(response, message)
        except asyncio.TimeoutError:
            metrics.event_stream_stalled.inc()
        except (ConnectionError, RuntimeError):  # the client went away
            pass
        finally:
            hub.leave(client)
        return response

    async def _write(self, response: aiohttp_web.StreamResponse, data: bytes) -> None:
        await asyncio.wait_for(response.write(data), settings.event_stream_write_timeout_s)
