import pytest
import rocksdict
from faust.stores import STORES

from app.main import settings
from app.framework.store import MIB, BudgetedOptions, BudgetedStore, shared_memory, store_options

pytestmark = pytest.mark.usefixtures("built_app")  # what these test is made by the app


def test_the_store_url_of_the_app_resolves_to_the_budgeted_store():
    # app.main says store="budgeted-rocksdb://"; every worker in tests/integration opens it.
    assert STORES.by_url("budgeted-rocksdb://") is BudgetedStore


def test_every_database_shares_one_cache_and_one_memtable_limit_of_the_budget():
    assert shared_memory() is shared_memory()
    assert shared_memory().write_buffers.enabled()
    assert shared_memory().write_buffers.get_buffer_size() == settings.table_memory_mb * MIB * 3 // 4


def test_the_memtables_of_every_database_do_not_fill_the_budget_by_reserving_it(tmp_path):
    # With RocksDB's default arena blocks (1/8 of the write buffer), 52 nearly empty memtables
    # reserved the whole budget, and the manager flushed memtables of a few KiB all the time.
    options = BudgetedOptions(**store_options(), use_rocksdict=True)
    databases = [rocksdict.Rdict(str(tmp_path / f"p{n}"), options=options.as_options())
                 for n in range(52)]
    try:
        for n in range(200):  # 20 KiB each, 1 MiB in all
            for db in databases:
                db[f"order-{n}".encode()] = b"x" * 100
        memtables = shared_memory().write_buffers
        # With RocksDB's default blocks the usage is about 50 MiB, four times the memtables' share.
        assert memtables.get_usage() < memtables.get_buffer_size() // 2
    finally:
        for db in databases:
            db.close()


def test_a_database_opened_with_the_budgeted_options_reads_what_it_wrote(tmp_path):
    options = BudgetedOptions(**store_options(), use_rocksdict=True)
    for partition in range(2):
        db = rocksdict.Rdict(str(tmp_path / f"p{partition}"), options=options.as_options())
        db[b"order-1"] = b"VALIDATED"
        assert db[b"order-1"] == b"VALIDATED"
        db.close()
