"""Importing a service builds no app and patches nothing: its rules can be used alone.

Run in a new interpreter: this test session builds an app for the agent tests.
"""

import subprocess
import sys

IMPORT_EVERY_SERVICE = """
import gc, importlib, pkgutil
import aiokafka.client
import faust
from faust.stores import STORES

metadata_update = aiokafka.client.AIOKafkaClient._metadata_update
wait_on_metadata = aiokafka.client.AIOKafkaClient._wait_on_metadata
import agents, web
for package in (agents, web):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
import app.commands, app.main, app.topics, tables.orders

assert app.main._built is None, "app.main built an app"
assert not [o for o in gc.get_objects() if isinstance(o, faust.App)], "a Faust app exists"
assert aiokafka.client.AIOKafkaClient._metadata_update is metadata_update, "aiokafka was patched"
assert aiokafka.client.AIOKafkaClient._wait_on_metadata is wait_on_metadata, "aiokafka was patched"
assert "budgeted-rocksdb" not in STORES.aliases, "Faust's store registry was changed"
from agents.fraud import assess_fraud
"""


def test_importing_every_service_builds_no_app_and_patches_nothing():
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERY_SERVICE],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]


def test_using_a_topic_or_a_table_before_the_app_is_built_says_so():
    code = ("from tables.orders import order_states\n"
            "try:\n    order_states.get('x')\nexcept RuntimeError as e:\n    print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "table order_states is used before the app is built" in run.stdout, run.stderr[-3000:]
