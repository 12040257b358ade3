"""The dashboard feed's rules: what it keeps is bounded, an update carries one second's changes,
and a client that falls behind gets a snapshot instead of a growing queue."""

import json

from app import metrics
from web.events import Client, server_sent_event
from web.feed import RECENT_ORDERS, Feed


def order(order_id: str, state: str = "CREATED") -> dict:
    return {"id": order_id, "customerId": 1, "state": state, "product": "SOCKS", "quantity": 1,
            "price": 2.0}


def test_an_update_carries_the_seconds_counts_and_each_changed_order_at_its_latest_state():
    feed = Feed()
    feed.add_order(order("a"))
    feed.add_order(order("a", "VALIDATED"))
    feed.add_order(order("b"))
    feed.add_order(order("a"), live=False)  # read back, and behind what is shown
    update = feed.tick(100)
    assert update["rate"] == {"t": 100, "counts": {"CREATED": 2, "VALIDATED": 1}}
    assert [(o["id"], o["state"]) for o in update["orders"]] == [("a", "VALIDATED"), ("b", "CREATED")]
    assert feed.tick(101) == {"rate": {"t": 101, "counts": {}}}  # nothing changed since


def test_what_the_feed_keeps_is_bounded_whatever_passes():
    feed = Feed()
    for number in range(1000):
        feed.add_order(order(f"o{number}"))
        feed.add_burst({"customerId": number, "windowStart": "t", "orders": 3})
        feed.add_email({"orderId": f"o{number}", "to": "x@example.com", "body": "long text"})
    for second in range(500):
        feed.tick(second)
    snapshot = feed.snapshot()
    assert len(snapshot["orders"]) == RECENT_ORDERS and snapshot["orders"][-1]["id"] == "o999"
    assert len(snapshot["bursts"]) == 20 and len(snapshot["emails"]) == 20
    assert "body" not in snapshot["emails"][0]
    assert len(snapshot["rates"]) == 60 and snapshot["rates"][-1]["t"] == 499


def test_a_bursts_update_replaces_its_window_and_an_older_count_does_not():
    feed = Feed()
    feed.add_burst({"customerId": 7, "windowStart": "w", "orders": 3})
    feed.add_burst({"customerId": 7, "windowStart": "w", "orders": 5})
    feed.add_burst({"customerId": 7, "windowStart": "w", "orders": 4})
    assert [b["orders"] for b in feed.snapshot()["bursts"]] == [5]


def test_stock_is_sent_only_when_it_changed():
    feed = Feed()
    feed.set_stock([{"product": "SOCKS", "stock": 3}])
    assert feed.tick(1)["stock"] == [{"product": "SOCKS", "stock": 3}]
    feed.set_stock([{"product": "SOCKS", "stock": 3}])
    assert "stock" not in feed.tick(2)


def test_a_client_that_falls_behind_gets_a_snapshot_not_a_longer_queue():
    resyncs = metrics.sample("event_stream_resyncs_total")
    client = Client(limit=3)
    for number in range(3):
        client.offer(server_sent_event("update", {"n": number}))
    assert [json.loads(m.split(b"data: ")[1])["n"] for m in client.take()] == [0, 1, 2]
    for number in range(10):
        client.offer(server_sent_event("update", {"n": number}))
        assert len(client.queue) <= 3
    [message] = client.take()
    assert message.startswith(b"event: snapshot\n")
    assert metrics.sample("event_stream_resyncs_total") == resyncs + 1
    client.offer(server_sent_event("update", {"n": 11}))
    assert client.take() == [server_sent_event("update", {"n": 11})]
    assert not client.ready.is_set()
