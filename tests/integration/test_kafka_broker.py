"""The broker the tests use is Apache Kafka 4.3.1, and aiokafka 0.14 works against it."""

import subprocess

import pytest

from app.broker import KAFKA_VERSION, LOG4J2_CONFIG, fetch_jars
from app.settings import Settings


def test_the_broker_reports_kafka_4_3_features_and_version(kafka):
    if kafka.broker is None:
        pytest.skip("KAFKA_BOOTSTRAP names a cluster of the user's choice")
    libs = fetch_jars(Settings.from_env().kafka_cache_dir)
    described = subprocess.run(
        ["java", "-Xmx128m", f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}", "-cp", f"{libs}/*",
         "org.apache.kafka.tools.FeatureCommand", "--bootstrap-server", kafka.bootstrap,
         "describe"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    # Asked over the wire: the finalized metadata version is the one Kafka 4.3 writes.
    [metadata] = [line for line in described.splitlines() if "Feature: metadata.version" in line]
    assert "FinalizedVersionLevel: 4.3-IV0" in metadata
    # And the broker's own start-up banner names the exact release.
    assert f"Kafka version: {KAFKA_VERSION}" in kafka.broker.log_file.read_text()
    assert KAFKA_VERSION == "4.3.1"


async def test_aiokafka_produces_and_consumes_through_a_group(orders_app, http):
    """A faust worker's group consumes what another client produced (POST -> order-requests)."""
    from tests.integration.conftest import eventually, unique

    order_id = unique()
    body = {"id": order_id, "customerId": 1, "product": "JUMPERS", "quantity": 1, "price": 2.5}
    async with http.post(f"{orders_app.workers[0].url}/v1/orders", json=body) as response:
        assert response.status == 201

    # A 201 means the order is accepted; its CREATED event follows on `orders` a moment later.
    async def on_orders() -> bool:
        return order_id.encode() in [key for key, _ in await orders_app.read_topic("orders")]

    await eventually(on_orders, timeout=30)
