"""The local Apache Kafka broker: real Kafka 4.3.1 (KRaft) run from Maven Central jars.

One owner for `make run`, the test session and the benchmark:
- `fetch_jars()` copies the broker's runtime classpath into a cache outside git, once;
- `LocalBroker` formats its storage, starts `kafka.Kafka`, waits until it serves, and stops it
  (the JVM also dies with the Python process that started it: no orphan JVM);
- `LocalCluster` (KAFKA_BROKERS=3) runs three of them as one replicated cluster. Each node is
  broker and controller, the three controllers one static quorum: any one node can be lost and
  the other two still elect a controller and hold two replicas of every partition, with three
  JVMs on the machine (a separate controller would make four and still not outlive its loss).

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
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Callable, ClassVar
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
    """One Kafka node (broker and controller) on 127.0.0.1:port, its controller on port + 1.

    Alone, it forms its own controller quorum. In a cluster, `voters` maps each node's id to its
    port (its controller on the next), every node is formatted with the same `cluster_id`, and
    Kafka's internal topics get 3 replicas (min ISR 2) as on any production cluster."""

    def __init__(self, *, port: int, data_dir: Path, cache_dir: Path, heap_mb: int = 768,
                 secured: Secured | None = None, node_id: int = 1,
                 voters: dict[int, int] | None = None, cluster_id: str | None = None) -> None:
        self.secured = secured
        self.node_id = node_id
        self.voters = voters
        self.cluster_id = cluster_id
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
            "node.id": str(self.node_id),
            **self._quorum_properties(),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://{controller}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.num.partitions": "8",
            **self._internal_topic_properties(),
            "group.initial.rebalance.delay.ms": "0",
            # The app declares every topic with its partition count; a write to an undeclared
            # topic is a bug we want to see, not a topic created with the wrong partitions.
            "auto.create.topics.enable": "false",
            # The log cleaner's default 128 MiB dedupe buffer is too much for a small heap.
            "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
            **(self._secured_properties() if self.secured else {}),
        }

    def _quorum_properties(self) -> dict[str, str]:
        if self.voters is None:
            return {"controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}"}
        return {"controller.quorum.voters": ",".join(
            f"{node}@127.0.0.1:{port + 1}" for node, port in sorted(self.voters.items()))}

    def _internal_topic_properties(self) -> dict[str, str]:
        nodes = 1 if self.voters is None else len(self.voters)
        replicas, min_isr = str(min(3, nodes)), str(min(2, nodes))
        return {
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
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
        # A static quorum (`controller.quorum.voters`) is formatted without --standalone.
        quorum = ["--standalone"] if self.voters is None else []
        command = self._java(
            "kafka.tools.StorageTool", "format", *quorum, "-t", self.cluster_id or new_cluster_id(),
            "-c", str(config), *users,
        )
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(f"formatting {self.data_dir} failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout: float = 60.0) -> LocalBroker:
        """Format storage if new, start the JVM, and return once the broker serves clients."""
        self.launch(lambda: self.wait_until_serving(timeout))
        return self

    def launch(self, wait_until_up: Callable[[], None] = lambda: None) -> None:
        """Format storage if new and start the JVM; then `wait_until_up()` (a node of a cluster
        serves only once a majority of the quorum runs: its nodes are launched first)."""
        if port_is_open(self.port) or port_is_open(self.controller_port):
            raise BrokerError(
                f"port {self.port} or {self.controller_port} is taken: is another broker running? "
                "Stop it, choose another KAFKA_PORT, or point KAFKA_BOOTSTRAP at it."
            )
        config = self._write_config()
        self._format_storage(config)
        command = self._java("kafka.Kafka", str(config), heap=f"{self.heap_mb}m")
        # The log is appended to: this run's lines start here.
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._launch(command, self.log_file, wait_until_up)

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the broker exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            started = READY_LINE in self.log_file.read_text(errors="replace")[self._log_start:]
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


class LocalCluster(LocalServer):
    """`len(ports)` Kafka nodes (each broker and controller) as one cluster: node n (from 1)
    serves on `ports[n - 1]`, its controller on the next port, its data and `broker.log` in
    `data_dir/node-n`."""

    def __init__(self, *, ports: list[int], data_dir: Path, cache_dir: Path,
                 heap_mb: int = 768) -> None:
        self.data_dir = data_dir.absolute()
        voters = {node: port for node, port in enumerate(ports, start=1)}
        cluster_id = self._cluster_id()
        self.nodes = [
            LocalBroker(port=port, data_dir=self.data_dir / f"node-{node}", cache_dir=cache_dir,
                        heap_mb=heap_mb, node_id=node, voters=voters, cluster_id=cluster_id)
            for node, port in voters.items()
        ]

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalCluster:
        return cls(ports=settings.local_broker_ports, data_dir=settings.broker_dir,
                   cache_dir=settings.kafka_cache_dir, heap_mb=settings.kafka_heap_mb)

    def _cluster_id(self) -> str:
        """The cluster's id: kept beside the nodes, so a restart finds the cluster it formatted."""
        saved = self.data_dir / "cluster.id"
        if not saved.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            saved.write_text(new_cluster_id())
        return saved.read_text().strip()

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    @property
    def log_file(self) -> Path:
        """Where the nodes' logs are (one `broker.log` in each node's folder)."""
        return self.data_dir / "node-*" / "broker.log"

    @property
    def process(self) -> subprocess.Popen | None:
        """The first node's JVM while every node runs (what `python -m app.broker run` waits on)."""
        if any(node.process is None for node in self.nodes):
            return None
        return self.nodes[0].process

    def start(self, timeout: float = 90.0) -> LocalCluster:
        """Start every node, then return once each serves clients."""
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_until_serving(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        # All at once: a node stopped after the others would wait for a controller majority.
        with ThreadPoolExecutor(len(self.nodes)) as stopping:
            list(stopping.map(lambda node: node.stop(timeout), self.nodes))


def local_kafka(settings: Settings) -> LocalBroker | LocalCluster:
    """The local broker, or with KAFKA_BROKERS > 1 the local cluster."""
    if settings.kafka_brokers > 1:
        return LocalCluster.from_settings(settings)
    return LocalBroker.from_settings(settings)


def main(argv: list[str]) -> int:
    return fetch_or_serve(
        argv, "app.broker", fetch_jars, local_kafka,
        f"Kafka {KAFKA_VERSION} serving on {{server.bootstrap_servers}}; Ctrl-C stops it",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
