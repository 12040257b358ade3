"""Fixtures every test folder may use."""

import pytest

from app.main import OrdersApp, get_app


@pytest.fixture(scope="session")
def built_app() -> OrdersApp:
    """The app of the test process, built from the environment's settings (its tables on
    Faust's memory store), for tests of what the app makes: agents, tables, the consumer."""
    app = get_app()
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    return app
