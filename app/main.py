"""The one Faust app, built by `create_app(settings)`. Every worker (`faust -A app worker`,
which finds it as `app.app`: `get_app()`) hosts every agent.

Services declare what they need on `app`, the app's handle (app/framework/handle.py), and read
`settings` through it: importing a service builds no app and patches nothing. `create_app`
checks the versions of Faust and aiokafka, installs this app's change to aiokafka, builds the
app from the settings, imports every service and makes what they declared.
"""

from __future__ import annotations

import importlib
import pkgutil

import faust

from app.framework import metadata
from app.framework.handle import AppHandle, SettingsHandle
from app.framework.outputs import Outputs
from app.framework.transport import Transport
from app.framework.versions import check_versions
from app.kafka_clients import faust_credentials
from app.schemas import Schemas
from app.settings import Settings

#: What services declare on; the built app once `create_app` has run.
app = AppHandle()
#: The built app's settings.
settings = SettingsHandle(app)
#: The packages and modules of the services, imported by `create_app`.
SERVICES = ("agents", "web", "app.commands")


class OrdersApp(faust.App):
    def __init__(self, settings: Settings, *args, **kwargs) -> None:
        self.settings = settings
        super().__init__(*args, **kwargs)
        #: What agents send (app/framework/outputs.py); drained by the commit barrier.
        self.outputs = Outputs(self, settings.batch_linger_ms, settings.batch_max_items)
        #: The schemas of the topics declared with a value type (app/schemas.py): the registry
        #: and the ids records are framed with.
        self.schemas = Schemas(settings.registry_url)

    def _new_transport(self) -> Transport:
        # Faust's aiokafka driver with batched fetches (app/framework/transport.py).
        return Transport(self.conf.broker_consumer, self)

    async def on_first_start(self) -> None:
        # Faust makes the data dir without its parents: a new DATA_DIR would crash the worker.
        self.settings.worker_dir.mkdir(parents=True, exist_ok=True)
        await super().on_first_start()
        # The worker has created the topics (app/framework/worker.py). Before any agent writes:
        # records are framed with the ids (app/schemas.py).
        await self.schemas.register()

    async def on_stop(self) -> None:
        await self.schemas.close()
        await super().on_stop()


_built: OrdersApp | None = None


def create_app(settings: Settings) -> OrdersApp:
    """Build the app from `settings`, with every service's topics, tables, agents and views."""
    global _built
    check_versions()  # before anything patches or subclasses Faust and aiokafka
    metadata.install()
    from app.framework import store  # it declares tables on `app`

    store.install()
    built = OrdersApp(
        settings,
        settings.app_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=faust_credentials(settings),
        autodiscover=False,  # create_app imports the services
        origin="app",
        datadir=str(settings.worker_dir),
        # Faust's RocksDB store inside one memory budget (app/framework/store.py).
        store="budgeted-rocksdb://",
        # Raw keys and values, and long-poll waiters woken by table writes.
        Table="app.framework.table:Table",
        # Changelogs restored a fetched batch at a time (app/framework/recovery.py).
        TableManager="app.framework.recovery:TableManager",
        # No terminal spinner: it turns on every library's debug logging (app/framework/worker.py).
        Worker="app.framework.worker:Worker",
        # Faust's Monitor without its per-event bookkeeping (app/framework/monitor.py).
        Monitor="app.framework.monitor:Monitor",
        topic_partitions=settings.topic_partitions,
        # Until create_topics has asked the cluster (app/replication.py); it creates every topic.
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
    app.bind(built)
    for name in SERVICES:
        for module in _modules(name):
            importlib.import_module(module)
    _built = built
    return built


def get_app() -> OrdersApp:
    """This process's app: the one built last, or one built from the environment's settings."""
    return _built if _built is not None else create_app(Settings.from_env())


def _modules(name: str) -> list[str]:
    """A module, or a package's modules."""
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return [name]
    return [f"{name}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
