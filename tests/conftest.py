"""Fixtures every test folder may use."""

import pytest

from app.main import OrdersApp, get_app

#: The schema id of every subject in tests without a registry (agents, the consumer).
TEST_SCHEMA_ID = 1


@pytest.fixture(scope="session")
def built_app() -> OrdersApp:
    """The app of the test process, built from the environment's settings (its tables on
    Faust's memory store, every subject's schema id TEST_SCHEMA_ID, no registry), for tests of
    what the app makes: agents, tables, the consumer."""
    app = get_app()
    for topic in app.schemas.topics.values():
        topic.use(TEST_SCHEMA_ID)
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    return app
