"""Queries are routed by hashing a table's changelog key: it must be the source topic's key."""

import pytest

from app import topics
from tables.orders import order_states


@pytest.mark.parametrize("table", [order_states])
def test_a_table_key_is_serialized_as_the_order_topics_key(table):
    changelog_key, _ = table.changelog_topic.prepare_key("order-1", None)
    topic_key, _ = topics.orders.prepare_key(b"order-1", None)
    assert changelog_key == topic_key == b"order-1"


def test_the_owner_of_a_key_is_found_before_the_producer_knows_the_changelog(monkeypatch):
    """A fresh worker routes its first request without producer metadata (it used to 500)."""
    from aiokafka.partitioner import murmur2

    from app.main import app
    from web.routing import owner_of

    changelog = order_states.changelog_topic.get_topic_name()
    monkeypatch.setattr(
        app.router, "table_metadata",
        lambda name: {"http://a:1": {changelog: [0, 1]}, "http://b:2": {changelog: [2, 3]}},
    )
    for key in ("order-1", "order-2", "order-3", "order-4", "order-5"):
        partition = (murmur2(key.encode()) & 0x7FFFFFFF) % 4
        expected = "http://a:1" if partition < 2 else "http://b:2"
        assert str(owner_of(order_states, key)) == expected
