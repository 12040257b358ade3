"""The worker's consumer batches its fetches (app/framework/transport.py); Faust alone asks for 1 byte."""

import asyncio
from types import SimpleNamespace

import pytest
from faust.transport import consumer as faust_consumer
from faust.types import TP
from intervaltree import IntervalTree

from app import metrics, topics
from app.framework import transport
from app.framework.transport import Consumer, await_chain, commit_end
from app.main import app

pytestmark = pytest.mark.usefixtures("built_app")  # what these test is made by the app


async def test_the_worker_consumer_waits_for_a_batch_up_to_the_configured_wait():
    kafka_consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert kafka_consumer._fetch_min_bytes == app.settings.consumer_fetch_min_bytes == 64 * 1024
        assert kafka_consumer._fetch_max_wait_ms == app.settings.consumer_fetch_max_wait_ms == 10
    finally:
        await kafka_consumer.stop()


async def test_the_worker_producer_waits_for_every_in_sync_replica_and_is_idempotent():
    producer = app.producer._new_producer()
    try:
        assert producer._txn_manager is not None  # what aiokafka makes for idempotence
        assert producer._sender._acks == -1
    finally:
        await producer.stop()


# How the consumer hands records over and where it commits (app/framework/transport.py).

def payments_partition(n: int = 0) -> TP:
    return TP(topics.payments.get_topic_name(), n)


@pytest.fixture(autouse=True)
def payments_acked(monkeypatch):
    """`payments` is read with acks, as when its agent subscribes to it in a worker."""
    monkeypatch.setattr(app.topics, "_acking_topics", {topics.payments.get_topic_name()})


class Record:
    """What the consumer needs of a fetched record."""

    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.topic, self.offset, self.acked = tp, tp.topic, offset, False


async def ignore(*args) -> None:
    pass


#: The consumers the running test made (`a_consumer`).
made: list[Consumer] = []


@pytest.fixture(autouse=True)
def close_consumer_loops():
    """Each consumer makes an event loop for its thread: closed after the test, not left to
    the garbage collector (which warned of it in some later test)."""
    yield
    while made:
        made.pop()._thread.thread_loop.close()


def a_consumer(deliver=ignore):
    """A consumer of the app, not started, that hands each record to `deliver`."""
    async def rebalanced(partitions):
        pass

    consumer = Consumer(app.transport, callback=deliver, on_partitions_revoked=rebalanced,
                        on_partitions_assigned=rebalanced)
    made.append(consumer)
    return consumer


def fetching(consumer, *records) -> None:
    """`consumer`'s next fetch returns `records` ((tp, offset) pairs), the ones after it nothing."""
    batches = [[(tp, Record(tp, offset)) for tp, offset in records]]

    async def getmany(timeout):
        await asyncio.sleep(0)
        for tp, message in batches.pop(0) if batches else []:
            yield tp, message

    consumer.getmany = getmany


def sought_to(consumer, tp: TP, offset: int) -> None:
    """As after `perform_seek` in a new generation: `offset` committed and next to read."""
    consumer._committed_offset[tp] = consumer._read_offset[tp] = offset


async def drain_until(consumer, done) -> None:
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    draining = asyncio.ensure_future(consumer._drain_messages(fetcher))
    try:
        await asyncio.wait_for(done(), 5)
    finally:
        fetcher._stopped.set()
        await asyncio.wait_for(draining, 5)


def test_a_commit_moves_over_handled_offsets_and_offsets_absent_from_the_log():
    assert commit_end(13, {13, 14, 15}, IntervalTree()) == 16
    assert commit_end(13, {13, 15}, IntervalTree.from_tuples([(14, 15)])) == 16
    assert commit_end(0, {7}, IntervalTree.from_tuples([(0, 7)])) == 8


def test_a_commit_stops_at_the_first_offset_not_handled():
    # Faust 0.15.3 committed 20 here: it took the committed offset for the last one handled,
    # so the record at the committed offset itself was skipped (a payment never emailed).
    assert commit_end(16, {17, 18, 19}, IntervalTree()) == 16
    assert commit_end(13, {13, 14, 16}, IntervalTree.from_tuples([(20, 25)])) == 15


async def test_the_consumer_commits_nothing_past_an_unhandled_record_at_the_committed_offset():
    consumer = a_consumer()
    tp = payments_partition()
    sought_to(consumer, tp, 16)
    for offset in (17, 18, 19):
        consumer.ack(Record(tp, offset))
    assert consumer._new_offset(tp) is None
    consumer.ack(Record(tp, 16))
    assert consumer._new_offset(tp) == 20
    assert consumer._acked[tp] == [] and not consumer._acked_index[tp]


async def test_a_commit_held_by_a_record_never_handled_is_logged_after_a_while(monkeypatch, caplog):
    consumer = a_consumer()
    tp = payments_partition()
    sought_to(consumer, tp, 16)
    consumer.ack(Record(tp, 17))
    clock = [100.0]
    monkeypatch.setattr(transport, "monotonic", lambda: clock[0])
    assert consumer._new_offset(tp) is None
    clock[0] += transport.COMMIT_STALL_WARN_S - 1
    assert consumer._new_offset(tp) is None
    assert "nothing past" not in caplog.text  # for a moment, the record is still being handled
    clock[0] += 1
    assert consumer._new_offset(tp) is None
    waited = f"{transport.COMMIT_STALL_WARN_S:.0f} s"
    assert f"nothing past offset 16 is committed: it has not been handled for {waited}" in caplog.text
    consumer.ack(Record(tp, 16))
    assert consumer._new_offset(tp) == 18
    assert tp not in consumer._held_commits


async def test_a_seek_forgets_how_long_commits_were_held_before_it(monkeypatch):
    consumer = a_consumer()
    tp = payments_partition()
    sought_to(consumer, tp, 16)
    consumer.ack(Record(tp, 17))
    consumer._new_offset(tp)
    assert tp in consumer._held_commits

    async def seek_to_committed():
        return {tp: 16}

    monkeypatch.setattr(consumer, "seek_to_committed", seek_to_committed)
    await consumer.perform_seek()
    assert consumer._held_commits == {}


async def test_a_partition_not_yet_sought_to_its_commit_commits_nothing():
    consumer = a_consumer()
    tp = payments_partition()
    consumer.ack(Record(tp, 20))
    assert consumer._new_offset(tp) is None
    assert consumer._acked[tp] == [] and not consumer._acked_index[tp]  # nothing piles up


async def test_the_lag_after_a_rebalance_counts_from_the_offset_committed_before_it():
    # Faust's monitor forgets its commits at every rebalance: a worker that had not committed
    # since showed every record of its partitions as lag (the crash test's explanation, ciZ).
    consumer = a_consumer()
    tp = payments_partition()
    sought_to(consumer, tp, 40)
    assert metrics.lag_by_topic([tp], {tp: 45}, consumer.committed_offsets()) == {tp.topic: 5}


async def test_records_the_log_skipped_are_committed_over_and_records_before_a_seek_are_not_handed_out():
    handed = []

    async def deliver(message):
        handed.append(message.offset)

    consumer = a_consumer(deliver)
    tp, unsought = payments_partition(0), payments_partition(1)
    sought_to(consumer, tp, 13)
    fetching(consumer, (tp, 12), (tp, 13), (tp, 15), (unsought, 4))

    async def handed_15():
        while 15 not in handed:
            await asyncio.sleep(0.01)

    await drain_until(consumer, handed_15)
    assert handed == [13, 15]  # 12 was fetched before the seek to 13; `unsought` has no seek yet
    for offset in handed:
        consumer.ack(Record(tp, offset))
    assert consumer._new_offset(tp) == 16  # 14 is not in the log (compacted, or a marker)


async def test_a_delivery_waiting_when_the_flow_stops_is_given_up_and_its_batch_with_it():
    handed, room = [], asyncio.Event()

    async def deliver(message):
        if message.offset == 16:
            await room.wait()  # the stream's buffer is full
        handed.append(message.offset)

    consumer = a_consumer(deliver)
    tp = payments_partition()
    sought_to(consumer, tp, 13)
    fetching(consumer, *[(tp, offset) for offset in range(13, 20)])

    async def stopped_while_16_waits():
        while consumer._delivering is None:
            await asyncio.sleep(0.01)
        consumer.stop_flow()  # a rebalance begins
        room.set()
        await asyncio.sleep(0.1)

    await drain_until(consumer, stopped_while_16_waits)
    assert handed == [13, 14, 15]
    assert consumer._read_offset[tp] == 16  # where the records are read again after the seek
    for offset in handed:
        consumer.ack(Record(tp, offset))
    assert consumer._new_offset(tp) == 16


async def test_a_batch_fetched_before_a_seek_is_given_up_at_the_seek():
    handed = []
    consumer = a_consumer()
    tp = payments_partition()

    async def deliver(message):
        handed.append(message.offset)
        if message.offset == 21:  # Faust's recovery seeks meanwhile: back to the commit at 19
            sought_to(consumer, tp, 19)
            consumer._seeks += 1

    consumer.callback = deliver
    sought_to(consumer, tp, 20)
    fetching(consumer, *[(tp, offset) for offset in range(20, 24)])

    async def handed_21():
        while 21 not in handed:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)

    await drain_until(consumer, handed_21)
    # 22 and 23 were fetched from before the seek: handed out now, they would have moved the
    # partition's read offset past 19 and 20, which the fetch after the seek brings again.
    assert handed == [20, 21]
    assert consumer._read_offset[tp] == 19


async def test_changelog_records_go_to_the_recovery_a_fetch_at_a_time_and_never_to_the_streams(
    monkeypatch,
):
    # `emails` is the changelog of `emails_sent` and a topic of the registry (acks on): it is
    # restored like any changelog, not handed to the streams record by record.
    emails, payments = TP(topics.emails.get_topic_name(), 1), payments_partition()
    monkeypatch.setattr(type(app.tables), "changelog_topics", property(lambda tables: {emails.topic}))
    fetched = {emails: [Record(emails, 7), Record(emails, 8)], payments: [Record(payments, 3)]}

    async def fetch(self, timeout):
        return dict(fetched), {emails, payments}

    monkeypatch.setattr(faust_consumer.Consumer, "_wait_next_records", fetch)
    restored = []
    monkeypatch.setattr(app.tables.recovery, "restore_fetched", restored.append)

    records, active = await a_consumer()._wait_next_records(1.0)

    assert records == {payments: fetched[payments]}
    assert restored == [{emails: fetched[emails]}]


async def test_the_chain_of_awaits_names_each_coroutine_down_to_what_the_innermost_awaits():
    blocker = asyncio.Event()

    async def inner():
        await blocker.wait()

    async def outer():
        await inner()

    task = asyncio.ensure_future(outer())
    await asyncio.sleep(0)
    chain = await_chain(task.get_coro())
    blocker.set()
    await task
    assert [entry.split(" ")[0] for entry in chain[:3]] == ["outer", "inner", "wait"]
    assert "test_transport.py:" in chain[0] and "locks.py:" in chain[2]


async def test_a_commit_that_hangs_is_reported_with_where_it_waits_and_its_age_grows(
    monkeypatch, caplog,
):
    consumer = a_consumer()
    await Consumer.on_start(consumer)  # what the stall report needs of a started consumer
    released = asyncio.Event()

    async def hanging_commit(self, tps, start_new_transaction):
        await released.wait()
        return True

    monkeypatch.setattr(Consumer, "_commit_tps", hanging_commit)
    monkeypatch.setattr(transport, "COMMIT_STALL_WARN_S", 0.0)
    assert consumer.commit_stall() is None
    committing = asyncio.ensure_future(consumer.commit())
    await asyncio.sleep(0.05)

    duration, chain = consumer.commit_stall()
    assert duration >= 0.05 and consumer.commit_age() >= 0.05
    assert any(entry.startswith("hanging_commit ") for entry in chain)
    consumer.report_commit_stall()
    assert "a commit has been under way for" in caplog.text
    assert "hanging_commit (test_transport.py:" in caplog.text

    released.set()
    assert await committing is True
    assert consumer.commit_stall() is None and consumer.commit_age() < 0.05
