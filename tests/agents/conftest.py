"""Agents under `agent.test_context()`: memory tables, every outbound send recorded."""

from unittest.mock import AsyncMock

import pytest

from app import topics
from app.main import app


@pytest.fixture(autouse=True, scope="session")
def test_app():
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    return app


@pytest.fixture()
def sent(monkeypatch):
    """Replace every registry topic's `send`; returns {topic name: AsyncMock}."""
    mocks = {}
    for topic in topics.ALL:
        mocks[topic.get_topic_name()] = mock = AsyncMock()
        monkeypatch.setattr(topic, "send", mock)
    return mocks
