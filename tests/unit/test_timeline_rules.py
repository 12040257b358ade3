"""The timeline index's rule: each event once, in the order read, at most a cap kept."""

from agents.timeline import with_entry
from models.state import OrderTimeline, TimelineEntry


def entry(offset: int, summary: str = "CREATED", topic: str = "orders") -> TimelineEntry:
    return TimelineEntry(topic=topic, partition=1, offset=offset, timestamp=1_700_000_000_000,
                         summary=summary)


def test_events_are_kept_in_the_order_they_are_read():
    timeline = with_entry(None, entry(7, topic="order-requests", summary="place"), 10)
    timeline = with_entry(timeline, entry(3), 10)
    assert [(kept.topic, kept.offset) for kept in timeline.entries] == [
        ("order-requests", 7), ("orders", 3)]


def test_a_redelivered_record_is_not_added_again():
    timeline = with_entry(None, entry(3), 10)
    assert with_entry(timeline, entry(3), 10) is None


def test_two_items_of_one_batch_are_two_events():
    timeline = with_entry(None, entry(5, "FRAUD_CHECK PASS", "order-validations"), 10)
    timeline = with_entry(timeline, entry(5, "INVENTORY_CHECK PASS", "order-validations"), 10)
    assert [kept.summary for kept in timeline.entries] == ["FRAUD_CHECK PASS", "INVENTORY_CHECK PASS"]


def test_past_the_cap_events_are_counted_not_kept():
    timeline = OrderTimeline()
    for offset in range(5):
        timeline = with_entry(timeline, entry(offset), 3)
    assert [kept.offset for kept in timeline.entries] == [0, 1, 2]
    assert timeline.dropped == 2


def test_a_record_before_the_last_one_kept_from_its_topic_is_a_redelivery():
    timeline = with_entry(None, entry(3), 10)
    timeline = with_entry(timeline, entry(8, "VALIDATED"), 10)
    timeline = with_entry(timeline, entry(4, "place", "order-requests"), 10)
    assert with_entry(timeline, entry(3), 10) is None  # redelivered after a crash
    assert with_entry(timeline, entry(8, "VALIDATED"), 10) is None
    assert with_entry(timeline, entry(9, "FAILED"), 10).entries[-1].offset == 9
