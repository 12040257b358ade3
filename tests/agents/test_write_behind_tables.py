"""Write-behind tables: one changelog record per key and flush, reads that see every write."""

import asyncio
import uuid

import pytest

from app.main import app, get_app
from app.framework.outputs import Outputs
from models.state import OrderRecord
from tables.validations import open_orders
from tables.orders import order_states
from app.framework.table import drop_pending, flush_tables
from tests.agents.conftest import framed


class Broker:
    """Records what the barrier sends; answers each send with the next offset of its partition,
    or with `failure` when set."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes | None, int]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.failure: Exception | None = None

    async def send(self, topic: str, *, key: bytes, value: bytes | None, partition: int):
        acked = asyncio.get_running_loop().create_future()
        if self.failure is not None:
            acked.set_exception(self.failure)
        else:
            self.records.append((topic, key, value, partition))
            offset = self.offsets.get((topic, partition), -1) + 1
            self.offsets[(topic, partition)] = offset
            acked.set_result(type("Metadata", (), {"offset": offset})())
        return acked


@pytest.fixture(autouse=True)
def no_writes_of_other_tests(monkeypatch):
    drop_pending([open_orders])
    # Write-through tables flush at once; these tests flush by hand.
    monkeypatch.setattr(app.outputs, "write_through", lambda table: None)


def keys(n: int = 1) -> list[str]:
    return [f"wb-{uuid.uuid4().hex[:8]}" for _ in range(n)]


async def test_a_key_written_many_times_between_flushes_costs_one_changelog_record():
    [key] = keys()
    broker = Broker()
    for state in (1, 2, 3):
        open_orders.set_in(1, key, state)
        assert open_orders[key] == state  # every write is read at once
    assert await flush_tables([open_orders], broker.send) == 1
    assert broker.records == [(open_orders.changelog_topic.get_topic_name(),
                               key.encode(), b"3", 1)]
    assert open_orders.data[key] == 3  # in the store once the broker has it
    assert await flush_tables([open_orders], broker.send) == 0  # nothing new


async def test_a_deleted_key_is_gone_at_once_and_flushed_as_a_tombstone():
    [key] = keys()
    broker = Broker()
    open_orders.set_in(0, key, 1)
    await flush_tables([open_orders], broker.send)
    assert key in open_orders.data

    from app.framework.table import DELETED
    open_orders.set_in(0, key, DELETED)
    assert key not in open_orders and open_orders.get(key) is None
    assert key not in list(open_orders)
    with pytest.raises(KeyError):
        open_orders[key]
    await flush_tables([open_orders], broker.send)
    assert broker.records[-1][1:] == (key.encode(), None, 0)
    assert key not in open_orders.data


async def test_iteration_sees_the_store_and_the_overlay_with_the_newest_value():
    stored, written = keys(2)
    open_orders.set_in(2, stored, 20)
    await flush_tables([open_orders], Broker().send)
    open_orders.set_in(2, stored, 21)
    open_orders.set_in(3, written, 22)
    items = dict(open_orders.items())
    assert items[stored] == 21 and items[written] == 22


async def test_writes_during_a_flush_are_read_first_and_go_in_the_next_flush():
    [key] = keys()
    broker = Broker()
    open_orders.set_in(1, key, 30)
    release = asyncio.Event()
    original = broker.send

    async def slow_send(*args, **kwargs):
        await release.wait()
        return await original(*args, **kwargs)

    flushing = asyncio.ensure_future(flush_tables([open_orders], slow_send))
    await asyncio.sleep(0)
    open_orders.set_in(1, key, 31)  # an agent writes while the barrier waits
    assert open_orders[key] == 31
    release.set()
    assert await flushing == 1
    assert open_orders[key] == 31  # the overlay still wins over the flushed store
    await flush_tables([open_orders], broker.send)
    assert [value for _, k, value, _ in broker.records if k == key.encode()] == [b"30", b"31"]


async def test_a_write_made_while_the_barrier_drains_the_outputs_waits_for_the_next_flush():
    # Its output may still be batched: flushed now, a crash would leave the changelog saying it
    # was done while the output was lost.
    [key] = keys()
    broker = Broker()
    open_orders.set_in(1, key, 1)

    async def drain_outputs():
        open_orders.set_in(1, key, 2)  # an agent's write while the barrier waits

    assert await flush_tables([open_orders], broker.send, drain_outputs) == 1
    assert broker.records[-1][2] == b"1"
    assert open_orders[key] == 2
    await flush_tables([open_orders], broker.send)
    assert broker.records[-1][2] == b"2"


def outputs_with_producer(monkeypatch, send) -> Outputs:
    outputs = Outputs(app, linger_ms=20, max_items=500)
    monkeypatch.setattr(outputs, "_send", send)
    return outputs


async def test_a_drain_waits_for_a_publish_that_waits_for_room_in_the_producer(monkeypatch):
    from app import topics

    room, acks = asyncio.Event(), []

    async def send(topic, key, value, partition, timestamp_ms):
        await room.wait()
        acks.append(asyncio.get_running_loop().create_future())
        return acks[-1]

    outputs = outputs_with_producer(monkeypatch, send)
    publishing = asyncio.ensure_future(outputs.publish(topics.emails, "k", b"v"))
    await asyncio.sleep(0)
    draining = asyncio.ensure_future(outputs.drain())
    room.set()
    await publishing
    await asyncio.sleep(0.01)
    assert not draining.done()  # sent, not acknowledged
    acks[0].set_result(None)
    await asyncio.wait_for(draining, 1)


async def test_a_drain_does_not_wait_for_what_is_sent_after_it_began(monkeypatch):
    from app import topics

    acks = []

    async def send(topic, key, value, partition, timestamp_ms):
        acks.append(asyncio.get_running_loop().create_future())
        return acks[-1]

    outputs = outputs_with_producer(monkeypatch, send)
    await outputs.publish(topics.emails, "k1", b"v")
    draining = asyncio.ensure_future(outputs.drain())
    await asyncio.sleep(0)
    await outputs.publish(topics.emails, "k2", b"v")  # never acknowledged in this test
    acks[0].set_result(None)
    await asyncio.wait_for(draining, 1)


async def test_a_failed_flush_keeps_its_writes_for_the_next_one_under_newer_writes():
    old, both = keys(2)
    broker = Broker()
    open_orders.set_in(0, old, 40)
    open_orders.set_in(0, both, 41)
    broker.failure = RuntimeError("broker gone")
    with pytest.raises(RuntimeError):
        await flush_tables([open_orders], broker.send)
    assert old not in open_orders.data  # nothing reached the store
    open_orders.set_in(0, both, 42)
    broker.failure = None
    await flush_tables([open_orders], broker.send)
    sent = {k: v for _, k, v, _ in broker.records}
    assert sent == {old.encode(): b"40", both.encode(): b"42"}


async def test_writes_dropped_at_a_rebalance_are_forgotten_and_the_store_answers_again():
    [key] = keys()
    open_orders.set_in(2, key, 10)
    await flush_tables([open_orders], Broker().send)
    open_orders.set_in(2, key, 11)
    drop_pending([open_orders])
    assert open_orders[key] == 10


async def test_a_record_table_keeps_records_and_encodes_each_once_per_flush():
    [key] = keys()
    broker = Broker()
    drop_pending([order_states])
    for placed_by in ("r1", "r2"):
        order_states.set_in(0, key, OrderRecord(placed_by=placed_by))
    assert order_states[key].placed_by == "r2"
    await flush_tables([order_states], broker.send)
    [(_, _, value, _)] = broker.records
    assert OrderRecord.from_bytes(value) == OrderRecord(placed_by="r2") == order_states[key]


async def test_a_key_set_and_deleted_between_two_flushes_costs_no_record():
    [key] = keys()
    broker = Broker()
    from app.framework.table import DELETED
    open_orders.set_in(1, key, 5)
    open_orders.set_in(1, key, DELETED)
    assert await flush_tables([open_orders], broker.send) == 0


async def test_a_write_through_table_is_flushed_without_waiting_for_a_commit(monkeypatch):
    from models.records import Email, utc_now
    from tables.emails import emails_sent

    broker = Broker()

    async def send(topic, key, value, partition, timestamp_ms):
        return await broker.send(topic, key=key, value=value, partition=partition)

    outputs = Outputs(app, linger_ms=20, max_items=500)
    monkeypatch.setattr(outputs, "_send", send)
    monkeypatch.setattr(get_app(), "outputs", outputs)
    drop_pending([emails_sent])  # other tests' writes
    [order_id] = keys()
    email = Email(order_id=order_id, customer_id=1, to="a@b.org", subject="s", body="b",
                  sent_at=utc_now(), delivered_by="none")
    emails_sent.set_in(3, order_id, email)
    await asyncio.sleep(0)  # the loop is free once: the flush starts
    await app.outputs.drain()  # and the barrier's first step waits for it
    assert [(key, partition) for _, key, _, partition in broker.records] == [(order_id.encode(), 3)]
    assert emails_sent.data[order_id] == framed(email)  # the store holds what the changelog holds


async def test_records_published_as_latest_go_out_at_the_drain_the_latest_of_each_only(
    monkeypatch
):
    from app import topics

    sent = []

    async def send(topic, key, value, partition, timestamp_ms):
        sent.append((topic, key, value, partition))
        acked = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked

    outputs = outputs_with_producer(monkeypatch, send)
    for count in (4, 5, 6):
        outputs.publish_latest(topics.order_bursts, "7", b'{"orders": %d}' % count,
                               replaces=("7", 0), partition=1)
    outputs.publish_latest(topics.order_bursts, "7", b'{"orders": 9}', replaces=("7", 30),
                           partition=1)
    await asyncio.sleep(0.05)  # longer than the batches' linger: nothing goes out before a drain
    assert sent == []
    await outputs.drain()
    name = topics.order_bursts.get_topic_name()
    assert [(topic, key, value[5:], partition) for topic, key, value, partition in sent] == [
        (name, b"7", b'{"orders": 6}', 1), (name, b"7", b'{"orders": 9}', 1)]
    await outputs.drain()
    assert len(sent) == 2  # sent once
