"""`make run`: the local broker (unless KAFKA_BOOTSTRAP is set; with KAFKA_BROKERS=3, a local
cluster of three), the local schema registry (unless SCHEMA_REGISTRY_URL is set), one worker,
the demo data.

`make run-connect` (`python -m app.run --connect`) adds the legacy database and Kafka Connect:
the local PostgreSQL (unless DATABASE_URL is set) with the demo customers, the local Connect
worker (unless CONNECT_URL is set), and this app's two connectors (app/connect.py): customers
come from PostgreSQL by CDC instead of the SQLite loader, and orders go to its `orders` table.

Runs in the foreground; Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from app.broker import local_kafka
from app.processes import LocalServer, WorkerProcess, faust_command
from app.registry import LocalRegistry
from app.settings import Settings


def main(argv: list[str]) -> int:
    settings = Settings.from_env()
    with_connect = argv == ["--connect"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    servers: list[LocalServer] = []
    worker = None
    try:
        if settings.kafka_bootstrap is None:
            kafka = local_kafka(settings)
            _start(servers, kafka, f"Apache Kafka on {kafka.bootstrap_servers}")
        if settings.schema_registry_url is None:
            registry = LocalRegistry.from_settings(settings)
            _start(servers, registry, f"the schema registry on {registry.url}")
        if with_connect:
            _start_legacy_database_and_connect(settings, servers)
        environment = {"KAFKA_BOOTSTRAP": settings.bootstrap_servers,
                       "SCHEMA_REGISTRY_URL": settings.registry_url}
        worker = WorkerProcess(environment).start()
        print(f"Starting a worker on {worker.url} (log: {worker.log_file})")
        worker.wait_healthy()
        seed = ["seed-demo"] if not with_connect else ["seed-demo", "--no-customers"]
        subprocess.run(faust_command(*seed), env=worker.environment, check=True)
        if with_connect:
            from app.connect import connector_configs, put_connectors

            print(f"Creating the connectors on {settings.connect_endpoint} ...")
            put_connectors(settings.connect_endpoint,
                           connector_configs(settings, settings.registry_url))
        print(_banner(worker.url, settings, with_connect))
        return worker.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping ...", file=sys.stderr)
        if worker is not None:
            worker.stop()
        for server in reversed(servers):
            server.stop()


def _start(servers: list[LocalServer], server: LocalServer, what: str) -> None:
    print(f"Starting {what} (log: {server.log_file})")
    servers.append(server)
    server.start()


def _start_legacy_database_and_connect(settings: Settings, servers: list[LocalServer]) -> None:
    from app.connect import LocalConnect
    from app.postgres import LocalPostgres, create_demo_customers, create_orders_table

    if settings.database_url is None:
        postgres = LocalPostgres.from_settings(settings)
        _start(servers, postgres, f"PostgreSQL on {postgres.url}")
    create_demo_customers(settings.postgres_url)
    create_orders_table(settings.postgres_url)
    if settings.connect_url is None:
        connect = LocalConnect.from_settings(settings)
        _start(servers, connect, f"Kafka Connect on {connect.url}")


def _banner(url: str, settings: Settings, with_connect: bool) -> str:
    order = (
        '{"id":"order-1","customerId":1,"state":"CREATED",'
        '"product":"JUMPERS","quantity":1,"price":25.0}'
    )
    payment = '{"id":"payment-1","orderId":"order-1","ccy":"EUR","amount":25.0}'
    smtp = (
        f"SMTP server {settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host
        else "no SMTP server (set SMTP_HOST, or see `make mailbox`): recorded on `emails` only"
    )
    connect = f"""
Customers come from PostgreSQL by CDC; orders go to its `orders` table. Try:

  make psql SQL="UPDATE customers SET email = 'ada@example.org', updated_at = now() WHERE id = 1"
  curl -s {url}/v1/customers/1
  make psql SQL="SELECT state, count(*) FROM orders GROUP BY state"
  curl -s '{settings.connect_endpoint}/connectors?expand=status'
""" if with_connect else ""
    write = ' -H "Authorization: Bearer $API_TOKEN"' if settings.api_token else ""
    read = ' -H "Authorization: Bearer $API_READ_TOKEN"' if settings.api_read_token else ""
    return f"""
The dashboard is at {url}/ (open it in a browser).
The orders API is at {url}. Try:

  curl -i -X POST {url}/v1/orders -H 'Content-Type: application/json'{write} \\
       -d '{order}'
  curl -i{read} {url}/v1/orders/order-1/validated
  curl -i{read} {url}/v1/inventory/JUMPERS
  curl -i -X POST {url}/v1/payments -H 'Content-Type: application/json'{write} \\
       -d '{payment}'
  curl -s{read} {url}/v1/orders/order-1/timeline
  make trace ORDER=order-1
{connect}
Schemas: {settings.registry_url} (`curl {settings.registry_url}/subjects`).
{_access(settings)}
Emails: {smtp}.
Ctrl-C stops the worker and every server it started.
"""


def _access(settings: Settings) -> str:
    if settings.api_token is None:
        return ("Access: open: anyone who reaches this port may place orders (set API_TOKEN, and "
                "API_READ_TOKEN for reads).")
    reads = "need API_READ_TOKEN" if settings.api_read_token else "are open"
    return (f"Access: writes need `Authorization: Bearer $API_TOKEN`; reads {reads}; the "
            "dashboard asks for the token.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
