"""A worker at `-l warn` keeps the root logger at WARN (Faust's spinner would set it to DEBUG)."""

import pytest
import logging

from app.main import app

pytestmark = pytest.mark.usefixtures("built_app")  # what these test is made by the app


def test_a_quiet_worker_does_not_turn_on_debug_logging(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.WARN)
    monkeypatch.setattr(root, "handlers", [logging.NullHandler()])
    worker = app.conf.Worker(app, loglevel="warn")
    worker.on_setup_root_logger(root, logging.WARN)
    assert root.level == logging.WARN
    assert not root.isEnabledFor(logging.DEBUG)
