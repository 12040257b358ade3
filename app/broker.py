"""The local Apache Kafka broker: real Kafka 4.3.1 (KRaft, one node) run from Maven Central jars.

One owner for `make run`, the test session and the benchmark:
- `fetch_jars()` copies the broker's runtime classpath into a cache outside git, once;
- `LocalBroker` formats its storage, starts `kafka.Kafka`, waits until it serves, and stops it
  (the JVM also dies with the Python process that started it: no orphan JVM).

When KAFKA_BOOTSTRAP is set nothing here is started: callers use that cluster.

    python -m app.broker fetch   # download the jars (idempotent)
    python -m app.broker run     # a broker in the foreground, until Ctrl-C
"""

from __future__ import annotations

import base64
import logging
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

from app.processes import LocalServer, fetch_or_serve, maven_classpath, tail
from app.settings import Settings

KAFKA_VERSION = "4.3.1"
HERE = Path(__file__).parent / "kafka"
POM = HERE / "pom.xml"
LOG4J2_CONFIG = HERE / "log4j2.properties"
READY_LINE = "Kafka Server started"

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The local broker could not be fetched, formatted or started."""


def fetch_jars(cache_dir: Path) -> Path:
    """Return the folder holding the broker's classpath, downloading it with Maven if absent."""
    return maven_classpath(POM, cache_dir / f"kafka-{KAFKA_VERSION}" / "libs",
                           f"Apache Kafka {KAFKA_VERSION} jars", BrokerError, expected_mb=54)


def free_port() -> int:
    """A port that is free on 127.0.0.1 now (a worker's web server, a test SMTP server)."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_pair() -> int:
    """A port p such that p and p + 1 can both be bound on 127.0.0.1 (broker and controller).

    Bound, not just unanswered: p + 1 may be the local end of another program's connection,
    which refuses nothing yet makes the broker's bind fail.
    """
    for _ in range(50):
        with closing(socket.socket()) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65535 and can_bind(port + 1):
            return port
    raise BrokerError("no free pair of ports on 127.0.0.1")


def can_bind(port: int) -> bool:
    with closing(socket.socket()) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with closing(socket.socket()) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def new_cluster_id() -> str:
    """A random Kafka cluster id: 16 bytes in URL-safe base64 without padding.

    Never one that starts with "-": StorageTool would read it as an option and refuse to format
    (one id in 64 did). Kafka's own Uuid.randomUuid() skips those for the same reason.
    """
    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster.startswith("-"):
            return cluster


@dataclass(frozen=True)
class Secured:
    """A SASL_SSL listener with SCRAM-SHA-512 users and ACLs on (StandardAuthorizer), for the
    tests: the broker's key and certificate chain and its CA, in PEM; `users` are created when the
    storage is formatted, and `admin` (the broker's own principal) is a super user."""

    keystore: Path
    ca: Path
    users: dict[str, str]
    admin: str = "admin"

    MECHANISM: ClassVar[str] = "SCRAM-SHA-512"


class LocalBroker(LocalServer):
    """One Kafka node (broker and controller) on 127.0.0.1:port, its controller on port + 1."""

    def __init__(self, *, port: int, data_dir: Path, cache_dir: Path, heap_mb: int = 768,
                 secured: Secured | None = None) -> None:
        self.secured = secured
        self.port = port
        self.controller_port = port + 1
        self.data_dir = data_dir.absolute()
        self.cache_dir = cache_dir
        self.heap_mb = heap_mb
        self.process: subprocess.Popen | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBroker:
        return cls(
            port=settings.kafka_port,
            data_dir=settings.broker_dir,
            cache_dir=settings.kafka_cache_dir,
            heap_mb=settings.kafka_heap_mb,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def classpath(self) -> str:
        return str(fetch_jars(self.cache_dir) / "*")

    def server_properties(self) -> dict[str, str]:
        controller = f"127.0.0.1:{self.controller_port}"
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": controller,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://{controller}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            # One node: every internal topic has one replica.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # The app declares every topic with its partition count; a write to an undeclared
            # topic is a bug we want to see, not a topic created with the wrong partitions.
            "auto.create.topics.enable": "false",
            # The log cleaner's default 128 MiB dedupe buffer is too much for a small heap.
            "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
            **(self._secured_properties() if self.secured else {}),
        }

    def _secured_properties(self) -> dict[str, str]:
        secured, controller = self.secured, f"127.0.0.1:{self.controller_port}"
        password = secured.users[secured.admin]
        return {
            "listeners": f"SASL_SSL://127.0.0.1:{self.port},CONTROLLER://{controller}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{self.port},CONTROLLER://{controller}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": secured.MECHANISM,
            "sasl.mechanism.inter.broker.protocol": secured.MECHANISM,
            f"listener.name.sasl_ssl.{secured.MECHANISM.lower()}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{secured.admin}" password="{password}";'),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(secured.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(secured.ca),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # The controller listener is PLAINTEXT, on 127.0.0.1 only: its principal is ANONYMOUS.
            "super.users": f"User:{secured.admin};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }

    def _java(self, main_class: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp", self.classpath, main_class, *args,
        ]

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.server_properties().items()))
        return config

    def _format_storage(self, config: Path) -> None:
        if (self.data_dir / "logs" / "meta.properties").exists():
            return  # formatted by an earlier run: keep its data
        users = [] if self.secured is None else [
            argument for name, password in self.secured.users.items()
            for argument in ("--add-scram", f"{Secured.MECHANISM}=[name={name},password={password}]")
        ]
        command = self._java(
            "kafka.tools.StorageTool", "format", "--standalone", "-t", new_cluster_id(),
            "-c", str(config), *users,
        )
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(f"formatting {self.data_dir} failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout: float = 60.0) -> LocalBroker:
        """Format storage if new, start the JVM, and return once the broker serves clients."""
        if port_is_open(self.port) or port_is_open(self.controller_port):
            raise BrokerError(
                f"port {self.port} or {self.controller_port} is taken: is another broker running? "
                "Stop it, choose another KAFKA_PORT, or point KAFKA_BOOTSTRAP at it."
            )
        config = self._write_config()
        self._format_storage(config)
        command = self._java("kafka.Kafka", str(config), heap=f"{self.heap_mb}m")
        self._launch(command, self.log_file, lambda: self._wait_until_serving(timeout))
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the broker exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            started = READY_LINE in self.log_file.read_text(errors="replace")[offset:]
            if started and port_is_open(self.port):
                return
            time.sleep(0.2)
        raise BrokerError(f"the broker did not start within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return tail(self.log_file)

    def grant(self, principal: str, prefix: str) -> None:
        """Let `User:<principal>` do anything with the topics and groups whose names start with
        `prefix` (a secured broker's ACLs, set as its admin with Kafka's AclCommand)."""
        secured = self.secured
        config = self.data_dir / "admin-client.properties"
        config.write_text(
            "security.protocol=SASL_SSL\n"
            f"sasl.mechanism={secured.MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{secured.admin}" password="{secured.users[secured.admin]}";\n'
            "ssl.truststore.type=PEM\n"
            f"ssl.truststore.location={secured.ca}\n")
        result = subprocess.run(self._java(
            "org.apache.kafka.tools.AclCommand", "--bootstrap-server", self.bootstrap_servers,
            "--command-config", str(config), "--add", "--allow-principal", f"User:{principal}",
            "--operation", "All", "--topic", prefix, "--group", prefix,
            "--resource-pattern-type", "prefixed"), capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(f"ACLs for {principal} not set:\n{result.stdout}{result.stderr}")


def main(argv: list[str]) -> int:
    return fetch_or_serve(
        argv, "app.broker", fetch_jars, LocalBroker.from_settings,
        f"Kafka {KAFKA_VERSION} serving on {{server.bootstrap_servers}}; Ctrl-C stops it",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
