"""Queries are routed by hashing a table's changelog key: it must be the source topic's key."""

import pytest

from app import topics
from tables.orders import latest_orders, order_placements


@pytest.mark.parametrize("table", [latest_orders, order_placements])
def test_a_table_key_is_serialized_as_the_order_topics_key(table):
    changelog_key, _ = table.changelog_topic.prepare_key("order-1", None)
    topic_key, _ = topics.orders.prepare_key(b"order-1", None)
    assert changelog_key == topic_key == b"order-1"
