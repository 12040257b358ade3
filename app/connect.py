"""The local Kafka Connect worker: Apache Kafka Connect 4.3.1 in distributed mode, from Maven
Central jars (issue 16, first part: the worker; no connector is configured yet).

- `fetch_connect()` copies its runtime classpath (`connect-runtime`, `connect-json`) into the cache
  beside the broker's jars, once;
- `LocalConnect` writes its worker config under its data dir, starts
  `org.apache.kafka.connect.cli.ConnectDistributed` against a broker, waits until its REST API
  answers, and stops it (the JVM dies with the Python process that started it). Its connector
  configs, offsets and statuses live in three compacted topics of that broker, so a restart keeps
  them; its plugins are looked up under `plugins/` in its data dir.

With CONNECT_URL set nothing here is started.

    python -m app.connect fetch   # download the jars (idempotent)
    python -m app.connect run     # a Connect worker in the foreground against KAFKA_BOOTSTRAP
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from app.broker import KAFKA_VERSION, LOG4J2_CONFIG, port_is_open
from app.processes import LocalServer, fetch_or_serve, maven_classpath
from app.settings import Settings

POM = Path(__file__).parent / "kafka" / "connect" / "pom.xml"


class ConnectError(RuntimeError):
    """The local Connect worker could not be fetched or started."""


def fetch_connect(cache_dir: Path) -> Path:
    """Return the folder holding the Connect worker's classpath, downloading it if absent."""
    return maven_classpath(POM, cache_dir / f"kafka-connect-{KAFKA_VERSION}" / "libs",
                           f"Kafka Connect {KAFKA_VERSION} jars", ConnectError)


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
            "plugin.path": str(self.data_dir / "plugins"),
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
        (self.data_dir / "plugins").mkdir(parents=True, exist_ok=True)
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


def main(argv: list[str]) -> int:
    return fetch_or_serve(
        argv, "app.connect", fetch_connect, LocalConnect.from_settings,
        f"Kafka Connect {KAFKA_VERSION} at {{server.url}}; Ctrl-C stops it",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
