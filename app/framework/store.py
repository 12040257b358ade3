"""How every table is made: string keys, and a RocksDB (rocksdict) store inside one memory budget.

Faust opens one RocksDB per table partition, each with a block cache and memtables of its own
(Faust's defaults add up to ~2.5 GiB per database). Capping each database is not enough: the
tables on 4 partitions are dozens of databases (52 when there were 13 tables, 24 with the 6 of
today), and their memtables only flush when full, so a worker's memory grew with every order it
kept (a 10-minute soak with 13 tables: 141 MiB to 287 MiB). Here every database of the
worker shares one block cache and one write buffer manager, and TABLE_MEMORY_MB bounds them
together: a quarter for cached blocks (index and filter blocks included), three quarters for
memtables. The agents mostly read keys written seconds before, which the memtables still hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Sequence

import rocksdict
from faust.stores import STORES
from faust.stores.rocksdb import RocksDBOptions, Store
from faust.types import TP

from app.framework.handle import TableHandle, TopicHandle, target_of
from app.main import app, settings
from models.records import Record

MIB = 1024 * 1024
#: The memory a memtable reserves at a time.
ARENA_BLOCK_BYTES = 64 * 1024


@dataclass(frozen=True)
class SharedMemory:
    block_cache: rocksdict.Cache
    write_buffers: rocksdict.WriteBufferManager


@cache
def shared_memory() -> SharedMemory:
    """The block cache and memtable limit every table database of this worker uses."""
    budget = settings.table_memory_mb * MIB
    blocks = budget // 4
    return SharedMemory(
        rocksdict.Cache(blocks), rocksdict.WriteBufferManager(budget - blocks, False)
    )


class BudgetedOptions(RocksDBOptions):
    """Faust's options for one database, with the worker's shared cache and memtable limit."""

    def as_options(self) -> rocksdict.Options:
        options = super().as_options()
        memory = shared_memory()
        options.set_write_buffer_manager(memory.write_buffers)
        # The manager counts the arena blocks memtables reserve, RocksDB's default being 1/8 of
        # the write buffer (512 KiB here). 52 databases (13 tables then) reserving that filled the
        # budget while nearly empty, and it flushed memtables of a few KiB thousands of times a
        # minute.
        options.set_arena_block_size(ARENA_BLOCK_BYTES)
        blocks = rocksdict.BlockBasedOptions()
        blocks.set_bloom_filter(self.bloom_filter_size, block_based=True)
        blocks.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        blocks.set_block_cache(memory.block_cache)
        blocks.set_cache_index_and_filter_blocks(True)
        options.set_block_based_table_factory(blocks)
        return options


class BudgetedStore(Store):
    """Faust's RocksDB store whose databases open with `BudgetedOptions`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rocksdb_options = BudgetedOptions(**self.options, use_rocksdict=True)

    def restore(self, tp: TP, records: Sequence[Any]) -> None:
        """Write changelog records of partition `tp` (offset order), and the last one's offset
        as where recovery goes on from, in one write batch (app/framework/recovery.py)."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for record in records:
            if record.value is None:
                batch.delete(record.key)
            else:
                batch.put(record.key, record.value)
        batch.put(self.offset_key, str(records[-1].offset).encode())
        self._db_for_partition(tp.partition).write(batch)


def install() -> None:
    """Make `store="budgeted-rocksdb://"` (app.main) resolve to BudgetedStore."""
    STORES.aliases["budgeted-rocksdb"] = f"{__name__}:BudgetedStore"


def table(name: str, *, value_type: type | None = None, model: type[Record] | None = None,
          write_through: bool = False, changelog: TopicHandle | None = None) -> TableHandle:
    """A table keyed by order id, product or customer id, as the topic that feeds it; its values
    are `value_type` (str, bytes, int) or records of `model` (app/framework/table.py). Its
    changelog is `<app id>-<name>-changelog`, or the registry's topic `changelog`."""
    return app.make(TableHandle(f"table {name}"), lambda built: built.Table(
        name, key_type=str, value_type=value_type, model=model, write_through=write_through,
        changelog_topic=None if changelog is None else target_of(changelog),
        options=store_options()))


def store_options() -> dict:
    """Per-database sizes; the totals are bounded by `shared_memory()`.

    A new dict per table: Faust's store pops keys from the dict it is given.
    """
    return {
        "write_buffer_size": 4 * MIB,
        "max_write_buffer_number": 2,
        "target_file_size_base": 16 * MIB,
        "max_open_files": 256,
    }
