from faust.types import TP

from app import metrics


def test_lag_sums_the_uncommitted_records_of_each_topics_assigned_partitions():
    assigned = [TP("orders", 0), TP("orders", 1), TP("payments", 0)]
    ends = {TP("orders", 0): 10, TP("orders", 1): 7, TP("payments", 0): 3, TP("orders", 2): 99}
    committed = {TP("orders", 0): 4, TP("orders", 1): 7, TP("payments", 0): None}
    # Never committed (None before its seek): everything on it is behind. Not assigned: not this
    # worker's lag.
    assert metrics.lag_by_topic(assigned, ends, committed) == {"orders": 6, "payments": 3}


def test_the_exposition_has_the_lag_table_memory_pending_writes_held_partitions_and_no_stale_topics():
    metrics.render({"orders": 6, "payments": 3}, {"block_cache": 1, "memtables": 1}, 9, 1, 0.5)
    text = metrics.render({"orders": 2}, {"block_cache": 1024, "memtables": 2048}, 17, 3, 42.5).decode()
    assert "table_pending_writes 17.0" in text
    assert "consumer_commit_age_seconds 42.5" in text
    assert "orders_partitions_held 3.0" in text
    assert 'consumer_lag{topic="orders"} 2.0' in text
    assert 'table_memory_bytes{part="block_cache"} 1024.0' in text
    assert 'table_memory_bytes{part="memtables"} 2048.0' in text
    assert 'topic="payments"' not in text
    assert "# TYPE orders_events_total counter" in text
