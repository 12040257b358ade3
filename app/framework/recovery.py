"""Table recovery at the speed of the log (`TableManager=` in app.main): Faust's recovery, with
every fetched changelog batch written to the store in one step.

Faust hands each changelog record to its recovery as an event: decoded (keys and values this
app's store keeps as bytes anyway), queued, taken off the queue with a timer of its own, and
followed by a scan of every partition's remaining offsets. py-spy showed a cold restore spending
its ~100 µs a record there, and under 2% writing RocksDB (10,000 records/s, BENCHMARKS.md).
Here the consumer takes the changelog partitions' records out of each fetch before anything
looks at them one by one (`Consumer._wait_next_records`, app/framework/transport.py) and gives
them to `Recovery.restore_fetched`, which writes each partition's records with its offset in one
RocksDB write batch: the store and its offset always agree, whatever stops the worker.

Faust's recovery stays in charge of everything else: which partitions are restored, from where,
when the streams resume. Its reading loop only wakes on each batch to see whether the active
partitions are done. Progress is logged every 5 s: records left, rate, time left.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from time import monotonic
from typing import Any, Mapping, Sequence

from faust.tables import manager, recovery
from mode import Service
from faust.types import TP

log = logging.getLogger(__name__)


class Recovery(recovery.Recovery):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Set by each applied batch: the reading loop checks whether recovery is done.
        self._batch_applied = asyncio.Event()
        #: Active changelog records written since recovery started, and when it started.
        self._restored = 0
        self._restore_started: float | None = None

    def restore_fetched(self, fetched: Mapping[TP, Sequence[Any]]) -> None:
        """Write fetched changelog records (aiokafka's ConsumerRecords, in offset order per
        partition) to their tables' stores. Records of a partition this worker does not restore
        (an active one once restored), or at offsets it has already written, are skipped."""
        for tp, records in fetched.items():
            if tp in self.active_tps:
                if not self.in_recovery:
                    continue  # restored: the worker's own writes reach its store themselves
                offsets, received = self.active_offsets, self._active_events_received_at
            elif tp in self.standby_tps:
                offsets, received = self.standby_offsets, self._standby_events_received_at
            else:
                continue  # revoked since the fetch
            seen = offsets.get(tp)
            if seen is not None and records[0].offset <= seen:
                records = records[bisect.bisect_right(records, seen, key=_offset):]
            if not records:
                continue
            table = self.tp_to_table[tp]
            table.data.restore(tp, records)
            offsets[tp] = records[-1].offset
            received[tp] = monotonic()
            if offsets is self.active_offsets:
                self._restored += len(records)
        self._batch_applied.set()

    def _set_recovery_started(self) -> None:
        super()._set_recovery_started()
        # Set by the last recovery: left set, the next one would end before reading anything
        # (Faust's loop cleared it on every record).
        self.signal_recovery_end.clear()
        self._restored, self._restore_started = 0, monotonic()

    @Service.task
    async def _slurp_changelogs(self) -> None:
        # Faust's loop, for batches: the records are already written; what is left is to say
        # when the active partitions are restored and the standbys have caught up.
        while not self.should_stop:
            try:
                await asyncio.wait_for(self._batch_applied.wait(), timeout=5.0)
            except asyncio.TimeoutError:
                pass  # a partition with nothing to read sends no batch: check anyway
            self._batch_applied.clear()
            try:
                if self.in_recovery and not self.need_recovery():
                    self._set_recovery_ended()
                    self.signal_recovery_end.set()
                if not self.tables.standbys_ready and not self.standby_remaining_total():
                    self.tables.on_standbys_ready()
            except Exception as error:  # as Faust's loop: a failed check is tried again
                log.warning("recovery check failed: %r", error)

    @Service.task
    async def _publish_stats(self) -> None:
        async for _ in self.itertimer(self.stats_interval, name="Recovery.stats"):
            if self.in_recovery and self._restore_started is not None:
                log.info("%s", progress_line(self.active_remaining_total(), self._restored,
                                             monotonic() - self._restore_started))


def progress_line(remaining: int, restored: int, elapsed_s: float) -> str:
    """What a restore in progress says: records written and left, the rate, the time left."""
    rate = restored / elapsed_s if elapsed_s > 0 else 0.0
    line = f"restoring tables: {restored:,} records written, {remaining:,} left"
    if rate > 0:
        line += f", {rate:,.0f} records/s, about {remaining / rate:,.0f} s left"
    return line


def _offset(record: Any) -> int:
    return record.offset


class TableManager(manager.TableManager):
    async def on_start(self) -> None:
        # Faust sleeps 1 s first, for tables declared late; every table of this app is declared
        # before its worker starts (app.main), and the second counted in every start.
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
