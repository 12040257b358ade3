"""`make run`: the local broker (unless KAFKA_BOOTSTRAP is set), the local schema registry
(unless SCHEMA_REGISTRY_URL is set), one worker, the demo data.

Runs in the foreground; Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from app.broker import LocalBroker
from app.processes import WorkerProcess, faust_command
from app.registry import LocalRegistry
from app.settings import Settings


def main() -> int:
    settings = Settings.from_env()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    broker = LocalBroker.from_settings(settings) if settings.kafka_bootstrap is None else None
    registry = LocalRegistry.from_settings(settings) if settings.schema_registry_url is None else None
    worker = None
    try:
        if broker is not None:
            print(f"Starting Apache Kafka on {broker.bootstrap_servers} (log: {broker.log_file})")
            broker.start()
        if registry is not None:
            print(f"Starting the schema registry on {registry.url} (log: {registry.log_file})")
            registry.start()
        environment = {"KAFKA_BOOTSTRAP": settings.bootstrap_servers,
                       "SCHEMA_REGISTRY_URL": settings.registry_url}
        worker = WorkerProcess(environment).start()
        print(f"Starting a worker on {worker.url} (log: {worker.log_file})")
        worker.wait_healthy()
        subprocess.run(faust_command("seed-demo"), env=worker.environment, check=True)
        print(_banner(worker.url, settings))
        return worker.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping ...", file=sys.stderr)
        if worker is not None:
            worker.stop()
        if registry is not None:
            registry.stop()
        if broker is not None:
            broker.stop()


def _banner(url: str, settings: Settings) -> str:
    order = (
        '{"id":"order-1","customerId":1,"state":"CREATED",'
        '"product":"JUMPERS","quantity":1,"price":25.0}'
    )
    payment = '{"id":"payment-1","orderId":"order-1","ccy":"EUR","amount":25.0}'
    smtp = (
        f"SMTP server {settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host
        else "no SMTP server (set SMTP_HOST, or see `make mailbox`): recorded on `emails` only"
    )
    return f"""
The orders API is at {url}. Try:

  curl -i -X POST {url}/v1/orders -H 'Content-Type: application/json' \\
       -d '{order}'
  curl -i {url}/v1/orders/order-1/validated
  curl -i {url}/v1/inventory/JUMPERS
  curl -i -X POST {url}/v1/payments -H 'Content-Type: application/json' \\
       -d '{payment}'
  make trace ORDER=order-1

Schemas: {settings.registry_url} (`curl {settings.registry_url}/subjects`).
Emails: {smtp}.
Ctrl-C stops the worker, the registry and the broker it started.
"""


if __name__ == "__main__":
    sys.exit(main())
