"""Kafka Connect: the local worker (Apache Kafka Connect 4.3.1, distributed mode, from Maven
Central jars), its plugins, and this app's two connectors.

- `fetch_connect()` copies the worker's runtime classpath (`connect-runtime`, `connect-json`)
  into the cache beside the broker's jars, once;
- `fetch_plugins()` fills a plugin path in the cache, once per version of the plugins: Debezium's
  PostgreSQL source and JDBC sink connectors (`kafka/connect/plugins/*.xml`), and this project's
  converter (`kafka/connect/converter`), built with Maven;
- `LocalConnect` writes its worker config under its data dir, starts
  `org.apache.kafka.connect.cli.ConnectDistributed` against a broker, waits until its REST API
  answers, and stops it (the JVM dies with the Python process that started it). Its connector
  configs, offsets and statuses live in three compacted topics of that broker, so a restart keeps
  them;
- `connector_configs()` fills the connector configs of `kafka/connect/connectors/` for an app's
  settings, and `put_connectors()` creates or updates them through any Connect cluster's REST API
  (idempotent: PUT /connectors/{name}/config) and waits until they and their tasks run:
  - `legacy-customers`: Debezium captures the legacy database's `customers` table onto
    `legacy-customers` (one row per record as plain JSON, keyed by customer id; JSON `null` for a
    deleted row), which agents/legacy_customers.py turns into Customer records;
  - `orders-to-sql`: the JDBC sink upserts every order of `orders` into the database's `orders`
    table (app/postgres.py), reading values with `RegistryJsonConverter`.

With CONNECT_URL set no worker is started here; the connectors are put on that cluster.

    python -m app.connect fetch   # download the jars and build the plugins (idempotent)
    python -m app.connect run     # a Connect worker in the foreground against KAFKA_BOOTSTRAP
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.broker import KAFKA_VERSION, LOG4J2_CONFIG, port_is_open
from app.processes import (
    PROGRESS_EVERY_S, LocalServer, fetch_or_serve, made_once, maven_classpath, run_maven,
)
from app.settings import Settings

HERE = Path(__file__).parent / "kafka" / "connect"
POM = HERE / "pom.xml"
#: One POM per connector plugin, named after it.
PLUGIN_POMS = sorted((HERE / "plugins").glob("*.xml"))
#: About how much each plugin downloads (for the progress of a first fetch).
PLUGIN_MB = {"debezium-connector-jdbc": 43, "debezium-connector-postgres": 8}
CONVERTER = HERE / "converter"
#: The connectors this app runs, one config file each, named after the connector.
CONNECTOR_CONFIGS = sorted((HERE / "connectors").glob("*.json"))
#: `${name}` in a connector config's values (class names hold a bare `$`: ExtractField$Key).
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class ConnectError(RuntimeError):
    """The local Connect worker could not be fetched or started."""


def fetch_connect(cache_dir: Path) -> Path:
    """Return the folder holding the Connect worker's classpath, downloading it if absent."""
    return maven_classpath(POM, cache_dir / f"kafka-connect-{KAFKA_VERSION}" / "libs",
                           f"Kafka Connect {KAFKA_VERSION} jars", ConnectError, expected_mb=36)


def fetch_plugins(cache_dir: Path) -> Path:
    """Return the Connect plugin path (a folder per plugin), fetching and building what is
    absent. Its name carries a digest of the plugins' sources: a changed POM or converter gets a
    plugin path of its own, and a worker never loads two versions of one class."""
    sources = [*PLUGIN_POMS, CONVERTER / "pom.xml", *sorted(CONVERTER.rglob("*.java"))]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:12]
    root = cache_dir / f"connect-plugins-{digest}"
    for pom in PLUGIN_POMS:
        maven_classpath(pom, root / pom.stem, f"the Connect plugin {pom.stem}", ConnectError,
                        PLUGIN_MB.get(pom.stem))
    _build_converter(root / "orders-converter")
    return root


def _build_converter(plugin: Path) -> None:
    def build(folder: Path) -> None:
        run_maven(["-f", str(CONVERTER / "pom.xml"), "package",
                   f"-DbuildDirectory={folder / 'build'}"],
                  f"Building this project's Connect converter into {plugin}", ConnectError)
        for jar in (folder / "build").glob("*.jar"):
            jar.rename(folder / jar.name)
        shutil.rmtree(folder / "build")

    made_once(plugin, build, ConnectError)


class LocalConnect(LocalServer):
    """A one-worker Connect cluster on 127.0.0.1:`port` against the Kafka at `bootstrap`; its
    group and storage topics are named after `group_id`."""

    def __init__(self, *, port: int, bootstrap: str, data_dir: Path, cache_dir: Path,
                 group_id: str = "orders-connect") -> None:
        self.port, self.bootstrap, self.group_id = port, bootstrap, group_id
        self.data_dir, self.cache_dir = data_dir, cache_dir
        self.process: subprocess.Popen | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalConnect:
        return cls(port=settings.connect_port, bootstrap=settings.bootstrap_servers,
                   data_dir=settings.data_dir.absolute() / "connect",
                   cache_dir=settings.kafka_cache_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "connect.log"

    @property
    def storage_topics(self) -> dict[str, str]:
        """Where the worker keeps connector configs, source offsets and statuses."""
        return {kind: f"{self.group_id}-{kind}" for kind in ("configs", "offsets", "status")}

    def worker_config(self) -> dict[str, str]:
        topics = self.storage_topics
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group_id,
            "config.storage.topic": topics["configs"],
            "offset.storage.topic": topics["offsets"],
            "status.storage.topic": topics["status"],
            # One local broker: one replica of each.
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "listeners": self.url,
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            "plugin.path": str(fetch_plugins(self.cache_dir)),
        }

    def command(self, config_file: Path) -> list[str]:
        return [
            "java", "-Xmx256m", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp", f"{fetch_connect(self.cache_dir)}/*",
            "org.apache.kafka.connect.cli.ConnectDistributed", str(config_file),
        ]

    def start(self, timeout: float = 120.0) -> LocalConnect:
        """Start the JVM and return once the REST API answers."""
        if port_is_open(self.port):
            raise ConnectError(f"port {self.port} is taken: is another Connect worker running? "
                               "Stop it, choose another CONNECT_PORT, or set CONNECT_URL.")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.data_dir / "connect.properties"
        config_file.write_text("".join(f"{key}={value}\n"
                                       for key, value in self.worker_config().items()))
        self._launch(self.command(config_file), self.log_file, lambda: self._wait_until(
            lambda: self.info() is not None, "Kafka Connect", timeout, self.log_file, ConnectError))
        return self

    def info(self) -> dict | None:
        """`GET /` (version, commit, cluster id) once the worker serves, else None (its REST
        server answers 404 while the worker still starts)."""
        try:
            with urllib.request.urlopen(self.url + "/", timeout=2) as answer:
                return json.load(answer)
        except (OSError, ValueError):
            return None


def connector_configs(settings: Settings, registry_url: str) -> dict[str, dict[str, str]]:
    """This app's connectors (name -> config), for its settings: the database of
    DATABASE_URL, its topics (TOPIC_PREFIX), the schema registry at `registry_url`. Names start
    with the app id, so apps sharing a Connect cluster and a database keep apart."""
    from app import topics  # the registry of topic names (it builds the app)

    database = urlsplit(settings.postgres_url)
    fields = {
        "database_host": database.hostname or "127.0.0.1",
        "database_port": str(database.port or 5432),
        "database_user": unquote(database.username or "postgres"),
        "database_password": unquote(database.password or ""),
        "database_name": database.path.lstrip("/") or "postgres",
        "registry_url": registry_url,
        # Replication slot and publication names: lower-case letters, digits and _.
        "slot_name": re.sub(r"[^a-z0-9_]", "_", f"{settings.app_id}_legacy_customers".lower()),
    }
    per_connector = {
        "legacy-customers": {"topic": topics.legacy_customers.name_in(settings)},
        "orders-to-sql": {"topic": topics.orders.name_in(settings),
                          "dead_letters": topics.orders_to_sql_dead_letters.name_in(settings)},
    }
    configs = {}
    for path in CONNECTOR_CONFIGS:
        name = f"{settings.app_id}-{path.stem}"
        values = {**fields, "connector_name": name, **per_connector[path.stem]}
        configs[name] = {
            key: PLACEHOLDER.sub(lambda found: values[found[1]], value)
            for key, value in json.loads(path.read_text()).items()
        }
    return configs


def put_connectors(connect_url: str, configs: dict[str, dict[str, str]], timeout: float = 120.0) -> None:
    """Create or update each connector (PUT of its config: a second run changes nothing) and
    return once each and its tasks are RUNNING; ConnectError with the trace if one FAILED."""
    for name, config in configs.items():
        _call(connect_url, "PUT", f"/connectors/{name}/config", config)
    started = said = time.monotonic()
    waiting = dict(configs)
    while waiting:
        for name in list(waiting):
            status = connector_status(connect_url, name)
            if status is None:  # just created: no status yet
                continue
            states = [status["connector"], *status["tasks"]]
            failed = [state for state in states if state["state"] == "FAILED"]
            if failed:
                raise ConnectError(f"connector {name} failed:\n{failed[0].get('trace', failed[0])}")
            if status["tasks"] and all(state["state"] == "RUNNING" for state in states):
                del waiting[name]
        if not waiting:
            return
        if time.monotonic() - started > timeout:
            raise ConnectError(f"connectors not RUNNING within {timeout:.0f}s: {sorted(waiting)}")
        if time.monotonic() - said >= PROGRESS_EVERY_S:
            said = time.monotonic()
            print(f"  waiting for connectors {', '.join(sorted(waiting))} to run: "
                  f"{said - started:.0f} s", file=sys.stderr, flush=True)
        time.sleep(0.5)


def delete_connectors(connect_url: str, names: list[str]) -> None:
    """Remove connectors (and their tasks) from a Connect cluster; absent ones are skipped."""
    for name in names:
        _call(connect_url, "DELETE", f"/connectors/{name}", missing_ok=True)


def connector_status(connect_url: str, name: str) -> dict | None:
    """`GET /connectors/{name}/status`: the connector's and its tasks' states (None if absent)."""
    return _call(connect_url, "GET", f"/connectors/{name}/status", missing_ok=True)


def _call(
    connect_url: str, method: str, path: str, body: object = None, missing_ok: bool = False,
) -> dict | None:
    """Connect's JSON answer; None for a 404 when `missing_ok`."""
    request = urllib.request.Request(
        connect_url.rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
            return json.loads(body) if body else {}
    except urllib.error.HTTPError as error:
        if error.code == 404 and missing_ok:
            return None
        raise ConnectError(f"{method} {connect_url}{path}: {error.code} {error.read()[:500]!r}") from None


def main(argv: list[str]) -> int:
    if argv[:1] == ["fetch"]:
        settings = Settings.from_env()
        fetch_connect(settings.kafka_cache_dir)
        print(fetch_plugins(settings.kafka_cache_dir))
        return 0
    return fetch_or_serve(
        argv, "app.connect", fetch_connect, LocalConnect.from_settings,
        f"Kafka Connect {KAFKA_VERSION} at {{server.url}}; Ctrl-C stops it",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
