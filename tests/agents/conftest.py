"""Agents under `agent.test_context()`: memory tables, every outbound send recorded."""

import json
from collections import defaultdict
from unittest.mock import AsyncMock

import pytest

from app import topics
from app.main import app
from app.schemas import frame
from models.records import Record, encode_batch
from tests.conftest import TEST_SCHEMA_ID


@pytest.fixture(autouse=True, scope="session")
def test_app(built_app):
    return built_app


class Sent(dict):
    """What the agents sent. `sent[name]` is the AsyncMock of a topic's Faust `send` (dead letters,
    deadlines); `records(name)` the records published one per event (app.outputs.publish), as
    (key, JSON); `items(name)` the items added to an internal topic's batches, as (partition, JSON);
    `latest` what `publish_latest` would send at the next commit.
    """

    def __init__(self) -> None:
        super().__init__()
        self.published: defaultdict[str, list[tuple[str, dict, int | None]]] = defaultdict(list)
        self.added: defaultdict[str, list[tuple[int, dict]]] = defaultdict(list)
        #: (topic, what it replaces) -> (key, JSON): what `publish_latest` would send at a commit.
        self.latest: dict[tuple[str, object], tuple[str, dict]] = {}

    def records(self, name: str) -> list[tuple[str, dict]]:
        return [(key, value) for key, value, _ in self.published[name]]

    def values(self, name: str) -> list[dict]:
        return [value for _, value in self.records(name)]

    def items(self, name: str) -> list[dict]:
        return [item for _, item in self.added[name]]


@pytest.fixture()
def sent(monkeypatch) -> Sent:
    recorded = Sent()
    for topic in topics.ALL:
        recorded[topic.get_topic_name()] = mock = AsyncMock()
        monkeypatch.setattr(topic, "send", mock)

    async def publish(topic, key, value, *, partition=None, timestamp=None):
        record = None if value is None else json.loads(value)  # None: a tombstone
        recorded.published[topic.get_topic_name()].append((key, record, partition))

    def add(topic, partition, item):
        recorded.added[topic.get_topic_name()].append((partition, json.loads(item)))

    def publish_latest(topic, key, value, *, replaces, partition=None, timestamp=None):
        recorded.latest[(topic.get_topic_name(), replaces)] = (key, json.loads(value))

    monkeypatch.setattr(app.outputs, "publish", publish)
    monkeypatch.setattr(app.outputs, "publish_latest", publish_latest)
    monkeypatch.setattr(app.outputs, "add", add)
    monkeypatch.setattr(app.outputs, "write_through", lambda table: None)  # no broker here
    return recorded


def framed(value: Record | bytes) -> bytes:
    """A record's value as the app writes it: framed with its (test) schema id."""
    return frame(TEST_SCHEMA_ID, value if isinstance(value, bytes) else value.to_bytes())


def batch(*records) -> bytes:
    """Records as one record of an internal topic."""
    return framed(encode_batch([record.to_bytes() for record in records]))
