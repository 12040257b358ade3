"""Kafka Connect between the app and a legacy PostgreSQL, all real: Debezium captures the
`customers` table into the app (agents/legacy_customers.py), the JDBC sink writes `orders` into
SQL (app/connect.py). PostgreSQL and the Connect worker are started once per session; each test
module's app has its own database, connectors, replication slot and topics."""

from __future__ import annotations

import json
from email import message_from_bytes

import psycopg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.connect import (
    LocalConnect, connector_configs, connector_status, delete_connectors, put_connectors,
)
from app.postgres import create_database, create_demo_customers, create_orders_table
from app.settings import Settings
from tests.integration.api import new_product, outcome, pay, place, set_stock
from tests.integration.conftest import OrdersApp, eventually
from tests.integration.test_email_service import smtp  # noqa: F401 (a real SMTP server, per module)


class ConnectedApp:
    def __init__(self, app: OrdersApp, database_url: str, connect_url: str, configs: dict) -> None:
        self.app, self.database_url, self.connect_url = app, database_url, connect_url
        self.configs = configs

    @property
    def url(self) -> str:
        return self.app.workers[0].url

    def sql(self, statement: str, *parameters) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(statement, parameters)
            return cursor.fetchall() if cursor.description else []

    async def customer(self, http, customer_id: int) -> tuple[int, dict | None]:
        async with http.get(f"{self.url}/v1/customers/{customer_id}") as answer:
            return answer.status, (await answer.json() if answer.status == 200 else None)

    async def sink_committed(self) -> dict:
        """The offsets the JDBC sink (consumer group `connect-<name>`) has committed."""
        [sink] = [name for name in self.configs if name.endswith("orders-to-sql")]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.app.kafka.bootstrap)
        await admin.start()
        try:
            return await admin.list_consumer_group_offsets(f"connect-{sink}")
        finally:
            await admin.close()

    def running(self) -> bool:
        states = [connector_status(self.connect_url, name) for name in self.configs]
        return all(status and status["connector"]["state"] == "RUNNING"
                   and all(task["state"] == "RUNNING" for task in status["tasks"])
                   for status in states)


@pytest.fixture(scope="module")
def connected(kafka, registry, postgres, connect, smtp, tmp_path_factory) -> ConnectedApp:
    connect_url = connect.url if isinstance(connect, LocalConnect) else connect
    controller, _ = smtp
    app = OrdersApp(kafka, registry, tmp_path_factory.mktemp("connected-app"),
                    {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port)})
    database_url = create_database(postgres, app.app_id.replace("-", "_"))
    create_demo_customers(database_url)
    create_orders_table(database_url)
    app.settings["DATABASE_URL"] = database_url
    app.add_worker()
    settings = Settings(kafka_bootstrap=kafka.bootstrap, app_id=app.app_id,
                        topic_prefix=app.topic_prefix, database_url=database_url)
    configs = connector_configs(settings, registry)
    put_connectors(connect_url, configs)
    yield ConnectedApp(app, database_url, connect_url, configs)
    delete_connectors(connect_url, list(configs))
    app.stop()


async def customer_is(connected, http, customer_id: int, **fields) -> bool:
    status, customer = await connected.customer(http, customer_id)
    return status == 200 and all(customer[key] == value for key, value in fields.items())


async def test_the_demo_customers_arrive_by_cdc_and_an_update_reaches_the_next_email(
    connected, http, smtp
):
    await eventually(lambda: customer_is(connected, http, 3, email="alan.turing@example.com"), 60)
    connected.sql("UPDATE customers SET email = 'alan@bletchley.example', updated_at = now() "
                  "WHERE id = 3")
    await eventually(lambda: customer_is(connected, http, 3, email="alan@bletchley.example"), 30)

    product = new_product()
    await set_stock(http, connected.url, product, 5)
    order_id = await place(http, connected.url, product=product, customer=3, price=4.0)
    assert (await outcome(http, connected.url, order_id))["state"] == "VALIDATED"
    await pay(http, connected.url, order_id, 4.0)
    _, mailbox = smtp

    async def sent():
        return mailbox.for_order(order_id)

    [message] = await eventually(sent)
    assert message.rcpt_tos == ["alan@bletchley.example"]
    assert "Alan" in message_from_bytes(message.content).get_payload()


async def test_an_inserted_customer_is_served_and_a_deleted_one_is_gone(connected, http):
    connected.sql("INSERT INTO customers (id, first_name, last_name, email, address, level) "
                  "VALUES (101, 'Katherine', 'Johnson', 'kj@example.com', 'Langley', 'gold')")
    await eventually(lambda: customer_is(connected, http, 101, firstName="Katherine", level="gold"))
    connected.sql("DELETE FROM customers WHERE id = 101")

    async def gone():
        return (await connected.customer(http, 101))[0] == 404

    await eventually(gone)


async def test_a_placed_order_reaches_its_terminal_state_in_the_sql_orders_table(connected, http):
    product = new_product()
    await set_stock(http, connected.url, product, 1)
    passed = await place(http, connected.url, product=product, customer=1, quantity=1, price=9.5)
    failed = await place(http, connected.url, product=product, customer=1, quantity=0)
    assert (await outcome(http, connected.url, passed))["state"] == "VALIDATED"
    assert (await outcome(http, connected.url, failed))["state"] == "FAILED"

    async def in_sql():
        rows = connected.sql("SELECT id, state, customer_id, product, quantity, price, "
                             "failed_checks FROM orders WHERE id IN (%s, %s) ORDER BY state",
                             failed, passed)
        return rows if [row[1] for row in rows] == ["FAILED", "VALIDATED"] else None

    failed_row, passed_row = await eventually(in_sql, 60)
    assert passed_row == (passed, "VALIDATED", 1, product, 1, 9.5, None)
    assert failed_row[6] == ["ORDER_DETAILS_CHECK"]

    # Its CREATED again, as after a crash of the orders service: the row keeps VALIDATED.
    created = [value for key, value in await connected.app.read_topic("orders")
               if key == passed.encode() and json.loads(value)["state"] == "CREATED"]
    partition, offset = await connected.app.produce("orders", passed.encode(), created[0])

    async def sink_read_it():
        committed = await connected.sink_committed()
        position = committed.get(TopicPartition(connected.app.topic("orders"), partition))
        return position is not None and position.offset > offset

    await eventually(sink_read_it, 60)
    assert connected.sql("SELECT state FROM orders WHERE id = %s", passed) == [("VALIDATED",)]


async def test_a_row_that_cannot_be_a_customer_is_a_dead_letter_and_the_connector_runs_on(
    connected, http
):
    connected.sql("INSERT INTO customers (id, first_name, last_name, email, address) "
                  "VALUES (102, 'No', 'Email', '', 'Nowhere')")
    connected.sql("INSERT INTO customers (id, first_name, last_name, email, address) "
                  "VALUES (103, 'Has', 'Email', 'has@example.com', 'Somewhere')")
    await eventually(lambda: customer_is(connected, http, 103, email="has@example.com"))

    async def dead_letters():
        return [record for record in await connected.app.read_records("legacy-customers-dead-letters")
                if record.key == b"102"]

    [dead] = await eventually(dead_letters)
    headers = dict(dead.headers)
    assert headers["error"].startswith(b"row 102 is not a customer: email:")
    assert json.loads(dead.value)["email"] == ""
    assert (await connected.customer(http, 102))[0] == 404
    assert connected.running()


async def test_a_record_of_orders_the_sink_cannot_read_is_its_dead_letter_and_it_runs_on(
    connected, http
):
    await connected.app.produce_raw("orders", b"unframed", b'{"id": "unframed"}')
    product = new_product()
    await set_stock(http, connected.url, product, 1)
    later = await place(http, connected.url, product=product, customer=2)
    assert (await outcome(http, connected.url, later))["state"] == "VALIDATED"

    async def in_sql():
        return connected.sql("SELECT state FROM orders WHERE id = %s", later) == [("VALIDATED",)]

    await eventually(in_sql, 60)

    async def dead_letters():
        return [record for record in await connected.app.read_records("orders-to-sql-dead-letters")
                if record.key == b"unframed"]

    [dead] = await eventually(dead_letters)
    assert dead.value == b'{"id": "unframed"}'
    assert b"Confluent wire format" in dict(dead.headers)["__connect.errors.exception.message"]
    assert connected.sql("SELECT count(*) FROM orders WHERE id = 'unframed'") == [(0,)]
    assert connected.running()


async def test_a_connect_restart_loses_no_change_and_applies_none_twice(connected, connect, http):
    if not isinstance(connect, LocalConnect):
        pytest.skip("stops and starts the local Connect worker (CONNECT_URL is set)")
    await eventually(lambda: customer_is(connected, http, 5, level="gold"), 60)
    connected.sql("UPDATE customers SET level = 'silver', updated_at = now() WHERE id = 5")
    await eventually(lambda: customer_is(connected, http, 5, level="silver"))
    connect.stop()
    for level in ("bronze", "gold", "platinum"):  # changes made while Connect is down
        connected.sql("UPDATE customers SET level = %s, updated_at = now() WHERE id = 5", level)
    # In this thread: a child dies with the thread that started it (PR_SET_PDEATHSIG).
    connect.start()
    put_connectors(connected.connect_url, connected.configs)
    await eventually(lambda: customer_is(connected, http, 5, level="platinum"), 60)

    rows = [json.loads(record.value) for record in await connected.app.read_records("legacy-customers")
            if record.key == b"5"]
    levels = [row["level"] for row in rows]
    # Every change once, in order, after the snapshot's row (Debezium resumes from the offset it
    # committed: at-least-once, so a change may come twice, but never out of order).
    assert levels[0] == "gold" and levels[-1] == "platinum"
    assert [level for i, level in enumerate(levels) if i == 0 or level != levels[i - 1]] == [
        "gold", "silver", "bronze", "gold", "platinum"]
    database_row = connected.sql("SELECT first_name, email, level FROM customers WHERE id = 5")
    _, served = await connected.customer(http, 5)
    assert (served["firstName"], served["email"], served["level"]) == database_row[0]
