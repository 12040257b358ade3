"""The one Faust app. Every worker (`faust -A app worker`) hosts every agent.

Agents and web views register themselves when `agents` and `web` are imported (autodiscovery).
"""

from __future__ import annotations

import faust

from app.framework.versions import check_versions

check_versions()  # before anything below patches or subclasses Faust and aiokafka

from app.framework import metadata_backoff  # noqa: E402
from app.framework.outputs import Outputs  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.framework.transport import Transport  # noqa: E402

settings = Settings.from_env()
metadata_backoff.install()


class OrdersApp(faust.App):
    def __init__(self, settings: Settings, *args, **kwargs) -> None:
        self.settings = settings
        super().__init__(*args, **kwargs)
        #: What agents send (app/framework/outputs.py); drained by the commit barrier.
        self.outputs = Outputs(self, settings.batch_linger_ms, settings.batch_max_items)

    def _new_transport(self) -> Transport:
        # Faust's aiokafka driver with batched fetches (app/framework/transport.py).
        return Transport(self.conf.broker_consumer, self)

    async def on_first_start(self) -> None:
        # Faust makes the data dir without its parents: a new DATA_DIR would crash the worker.
        self.settings.worker_dir.mkdir(parents=True, exist_ok=True)
        await super().on_first_start()
        from app.topics import create_topics  # the registry imports this module

        await create_topics()


app = OrdersApp(
    settings,
    settings.app_id,
    broker=f"kafka://{settings.bootstrap_servers}",
    autodiscover=["agents", "web", "app.commands"],
    origin="app",
    datadir=str(settings.worker_dir),
    # Faust's RocksDB store inside one memory budget (app/framework/store.py).
    store="budgeted-rocksdb://",
    # Raw keys and values, and long-poll waiters woken by table writes.
    Table="app.framework.table:Table",
    # No terminal spinner: it turns on every library's debug logging (app/framework/worker.py).
    Worker="app.framework.worker:Worker",
    # Faust's Monitor without its per-event bookkeeping (app/framework/monitor.py).
    Monitor="app.framework.monitor:Monitor",
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
    # Values are our own JSON records; agents decode them (undecodable ones go to dead letters).
    key_serializer="raw",
    value_serializer="raw",
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=settings.commit_interval_s,
    table_standby_replicas=settings.table_standby_replicas,
    broker_session_timeout=settings.session_timeout_s,
    # Kafka wants heartbeats at most a third of the session timeout apart.
    broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
    producer_acks=-1,
    producer_linger=settings.producer_linger_ms / 1000,
    web_host=settings.web_host,
    web_bind=settings.web_host,
    web_port=settings.web_port,
    canonical_url=settings.canonical_url,
    # Faust's table browser would expose every table unauthenticated.
    web_tables_enabled=False,
    web_graph_enabled=False,
)
