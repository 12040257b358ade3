"""How every table is made: string keys, a capped RocksDB (rocksdict) store."""

from __future__ import annotations

from faust.types import TableT

from app.main import app, settings
from app.settings import Settings


def table(name: str, *, value_type: type) -> TableT:
    """A table keyed by order id, product or customer id, as the topic that feeds it."""
    return app.Table(name, key_type=str, value_type=value_type, options=store_options(settings))


def store_options(settings: Settings) -> dict:
    """Cache caps for one table: Faust's defaults add up to ~2.5 GiB per store per partition.

    A new dict per table: Faust's store pops keys from the dict it is given.
    """
    megabytes = settings.table_cache_mb * 1024 * 1024
    return {
        "block_cache_size": megabytes,
        "block_cache_compressed_size": 0,
        "write_buffer_size": megabytes,
        "max_write_buffer_number": 2,
        "target_file_size_base": 4 * megabytes,
        "max_open_files": 256,
    }
