"""The app against a secured broker: a local Kafka 4.3.1 with only a SASL_SSL listener
(SCRAM-SHA-512, a throwaway CA made here) and ACLs on. A worker with the right credentials
places and validates an order; one with a wrong password, or that does not trust the broker's
certificate, stops at once with one line; a principal without ACLs is refused."""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from app.broker import Secured
from app.framework.worker import EXIT_KAFKA_REFUSED
from app.kafka_clients import client_options
from app.settings import Settings
from tests.integration.api import new_customer, new_product, outcome, place, set_stock
from tests.integration.conftest import Kafka, OrdersApp, start_on_free_ports
from tests.integration.pki import make_pki

USERS = {"admin": "admin-s3cret", "orders-app": "app-s3cret", "stranger": "stranger-s3cret"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    ca, keystore = make_pki(tmp_path_factory.mktemp("pki"))
    broker = start_on_free_ports(tmp_path_factory, Settings.from_env(),
                                 secured=Secured(keystore=keystore, ca=ca, users=USERS))
    try:
        yield broker
    finally:
        broker.stop()


def credentials(broker, user: str, password: str | None = None, ca=None) -> dict[str, str]:
    return {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user, "KAFKA_SASL_PASSWORD": password or USERS[user],
            "KAFKA_SSL_CAFILE": str(ca or broker.secured.ca)}


def secured_app(secured, registry, root, **login) -> OrdersApp:
    app = OrdersApp(Kafka(secured.bootstrap_servers, secured), registry, root,
                    credentials(secured, "orders-app", **login))
    secured.grant("orders-app", app.app_id)
    return app


async def test_a_worker_with_its_credentials_places_and_validates_an_order(
    secured, registry, tmp_path, http
):
    app = secured_app(secured, registry, tmp_path)
    try:
        url = app.add_worker().url
        product = new_product()
        await set_stock(http, url, product, 3)
        order_id = await place(http, url, product=product, customer=new_customer())
        assert (await outcome(http, url, order_id))["state"] == "VALIDATED"
    finally:
        app.stop()


@pytest.mark.parametrize("login, said", [
    ({"password": "wrong"}, "refused the credentials"),
    ({"ca": "OTHER"}, "its certificate is not trusted"),
], ids=["wrong-password", "untrusted-certificate"])
def test_a_worker_the_cluster_refuses_stops_at_once_with_one_line(
    secured, registry, tmp_path, login, said
):
    if login.get("ca") == "OTHER":
        login = {"ca": make_pki(tmp_path / "other", "another CA")[0]}
    app = secured_app(secured, registry, tmp_path, **login)
    worker = app.add_worker(healthy=False)
    try:
        deadline = time.monotonic() + 60
        while worker.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.process.returncode == EXIT_KAFKA_REFUSED, worker.log_file.read_text()[-2000:]
        lines = [line for line in worker.log_file.read_text().splitlines() if said in line]
        assert len(lines) == 1 and lines[0].startswith("faust-orders: ")
    finally:
        app.stop()


async def test_a_principal_without_acls_is_refused(secured, registry, tmp_path):
    app = secured_app(secured, registry, tmp_path)  # its topics exist once a worker ran
    try:
        app.add_worker()
        stranger = Settings(kafka_bootstrap=secured.bootstrap_servers,
                            **{k.lower(): v for k, v in credentials(secured, "stranger").items()})
        producer = AIOKafkaProducer(**client_options(stranger), request_timeout_ms=10_000)
        await producer.start()
        try:
            with pytest.raises(KafkaError, match="TopicAuthorizationFailed"):
                await producer.send_and_wait(app.topic("order-requests"), b"x", key=b"k")
        finally:
            await producer.stop()
    finally:
        app.stop()
