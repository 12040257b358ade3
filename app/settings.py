"""Settings: read once from the environment into one frozen object.

Every other module receives its values from here; no other module reads the environment or
names a broker address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping


class SettingsError(ValueError):
    """An environment variable holds a value the settings cannot use."""


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class Settings:
    #: An existing cluster ("host:port,..."). Unset: the local broker on KAFKA_PORT.
    kafka_bootstrap: str | None = None
    #: Port of the local broker that `make run` and the tests start when KAFKA_BOOTSTRAP is unset.
    kafka_port: int = 9092
    #: Heap of the local broker's JVM (of each, with KAFKA_BROKERS > 1).
    kafka_heap_mb: int = 768
    #: Nodes of the local cluster: 1, or 3 (a replicated cluster on this machine, on KAFKA_PORT,
    #: KAFKA_PORT + 2 and KAFKA_PORT + 4, each node's controller on the next port; app/broker.py).
    kafka_brokers: int = 1
    #: Replicas of every topic the app creates, changelogs included; capped at the number of
    #: brokers the cluster reports (app/replication.py).
    topic_replication_factor: int = 3
    #: `min.insync.replicas` of every topic the app creates; 0: 2 when the replication factor
    #: is 3 or more, else 1.
    topic_min_insync_replicas: int = 0
    #: Start even when an existing topic has fewer replicas than the replication factor (it is
    #: logged); otherwise the worker refuses to start.
    allow_under_replicated_topics: bool = False
    #: How every client of this project talks to Kafka (app/kafka_clients.py): PLAINTEXT, SSL,
    #: SASL_PLAINTEXT or SASL_SSL.
    kafka_security_protocol: str = "PLAINTEXT"
    #: With SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    #: With SSL: the CA that signed the brokers' certificates (PEM); unset: the system's CAs.
    kafka_ssl_cafile: Path | None = None
    #: With SSL and client certificates: this client's certificate and key (PEM).
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    #: Where the broker's jars (and the schema registry) are cached (outside git, shared by every
    #: checkout).
    kafka_cache_dir: Path = Path.home() / ".cache" / "faust-orders"
    #: An existing Confluent-compatible schema registry. Unset: the local one (app/registry.py).
    schema_registry_url: str | None = None
    #: Port of the local schema registry (its management interface on the next port).
    registry_port: int = 8081
    #: An existing Kafka Connect cluster's REST URL. Unset: the local worker (app/connect.py).
    connect_url: str | None = None
    #: Port of the local Kafka Connect worker's REST API.
    connect_port: int = 8083
    #: The legacy database Debezium captures customers from and the JDBC sink writes orders to
    #: (postgresql://user[:password]@host:port/database). Unset: the local PostgreSQL
    #: (app/postgres.py) on PG_PORT.
    database_url: str | None = None
    #: Port of the local PostgreSQL.
    pg_port: int = 5432
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    #: The URL other workers use to reach this one; defaults to http://WEB_HOST:WEB_PORT.
    web_canonical_url: str | None = None
    #: When set, every POST and PUT needs `Authorization: Bearer <API_TOKEN>` (web/auth.py).
    api_token: str | None = None
    #: When set too, so does every GET but `/health` and the dashboard's page (this token or
    #: API_TOKEN).
    api_read_token: str | None = None
    #: Broker data and logs, table stores and worker logs live below this folder.
    data_dir: Path = Path("var")
    topic_partitions: int = 4
    #: The Faust app id: the consumer group and the prefix of every changelog topic.
    app_id: str = "orders"
    #: Prepended to every topic name the app declares (isolates test runs on one cluster).
    topic_prefix: str = ""
    #: RocksDB memory of all the worker's tables together (app/framework/store.py). 16 MiB completed as
    #: many orders/s as 32 and kept a soak's RSS growth under 10% (BENCHMARKS.md).
    table_memory_mb: int = 16
    #: A worker's fetch waits for this many bytes, or CONSUMER_FETCH_MAX_WAIT_MS (app/framework/transport.py).
    consumer_fetch_min_bytes: int = 64 * 1024
    #: The longest a fetch waits for CONSUMER_FETCH_MIN_BYTES: the latency it may add, per hop.
    consumer_fetch_max_wait_ms: int = 10
    #: Items for an internal topic wait this long for others to travel in one record with them
    #: (app/framework/outputs.py): the latency a hop may add, and what makes hops cheap under load.
    batch_linger_ms: int = 20
    #: An internal topic's batch is sent once it holds this many items.
    batch_max_items: int = 500
    #: How often a worker commits offsets; table writes reach the changelogs at each commit, so
    #: a longer interval writes fewer changelog records (an order's stages fall in fewer windows)
    #: and, after a crash, leaves more work to redo. Faust's default is 2.8 s, Kafka Streams' 30 s.
    commit_interval_s: float = 10.0
    #: The producer waits this long to send records in one request (Faust's default is 0: one
    #: request, and one socket write, per record when the producer is idle).
    producer_linger_ms: int = 5
    #: Standby replicas of every table partition on other workers, for a quick fail-over.
    table_standby_replicas: int = 1
    #: A worker that sends no heartbeat this long is out of the group and its partitions move.
    #: Shorter fails over faster; too short, and a busy worker is thrown out for nothing.
    session_timeout_s: int = 10
    #: Fraud check: a customer's session total (quantity x price) at or above this fails.
    fraud_limit: int = 2000
    #: Fraud check: inactivity (event time) that closes a customer's session.
    fraud_session_gap_s: int = 3600
    #: Order bursts: the tumbling windows of event time in which a customer's orders are counted.
    burst_window_s: int = 30
    #: A window with more than this many orders of one customer is a burst (an alert).
    burst_min_orders: int = 2
    #: An order may come this long (event time) after its window's end and still be counted.
    burst_grace_s: int = 10
    #: An order's timeline keeps this many events; later ones are counted, not kept (an order
    #: paid a thousand times must not grow its record without bound).
    timeline_max_entries: int = 100
    #: An order not VALIDATED or FAILED this long after it was created ends FAILED (TIMEOUT).
    order_timeout_s: int = 300
    #: Email join: an order and its payment match when at most this far apart in event time.
    email_join_window_s: int = 60
    #: SMTP server of the email service. Unset: no SMTP; each email is still recorded on `emails`.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "orders@localhost"
    #: Log in to the SMTP server when set.
    smtp_username: str | None = None
    smtp_password: str | None = None
    #: Largest request body the HTTP API reads.
    max_body_bytes: int = 64 * 1024
    #: How long a request waits (a long-poll, the broker's acknowledgement) without `?timeout=`.
    http_default_timeout_ms: int = 10_000
    #: The largest `?timeout=` the API takes (keep it under your proxies' idle timeout).
    http_max_timeout_ms: int = 300_000
    #: Clients `GET /v1/events` (the dashboard's live feed) serves at once; more get a 503.
    event_stream_max_clients: int = 200
    #: Messages (one a second) a client of `/v1/events` may be behind; past it, its queue is
    #: dropped and it gets a fresh snapshot when it reads again: memory per client is bounded.
    event_stream_queue: int = 10
    #: A client whose socket takes no bytes for this long is disconnected.
    event_stream_write_timeout_s: int = 30
    log_level: str = "info"

    def __post_init__(self) -> None:
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        if protocol not in SECURITY_PROTOCOLS:
            raise SettingsError(f"KAFKA_SECURITY_PROTOCOL={protocol!r}: one of "
                                f"{', '.join(SECURITY_PROTOCOLS)}")
        if protocol.startswith("SASL_"):
            if mechanism not in SASL_MECHANISMS:
                raise SettingsError(f"KAFKA_SASL_MECHANISM={mechanism!r}: with {protocol}, one of "
                                    f"{', '.join(SASL_MECHANISMS)}")
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise SettingsError(f"with {protocol}, set KAFKA_SASL_USERNAME and "
                                    "KAFKA_SASL_PASSWORD")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise SettingsError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        if self.kafka_brokers not in (1, 3):
            # Three nodes are the smallest quorum that outlives a node; two would not.
            raise SettingsError(f"KAFKA_BROKERS={self.kafka_brokers}: 1 or 3")
        if self.topic_replication_factor < 1:
            raise SettingsError("TOPIC_REPLICATION_FACTOR must be at least 1")
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise SettingsError(
                f"TOPIC_MIN_INSYNC_REPLICAS={self.topic_min_insync_replicas} is more than "
                f"TOPIC_REPLICATION_FACTOR={self.topic_replication_factor}: no write could succeed")

    @property
    def kafka_uses_ssl(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from upper-case environment variables named after the fields."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            raw = environ.get(field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        return cls(**values)

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or ",".join(
            f"127.0.0.1:{port}" for port in self.local_broker_ports)

    @property
    def local_broker_ports(self) -> list[int]:
        """The client port of each node of the local cluster (its controller: the next port)."""
        return [self.kafka_port + 2 * node for node in range(self.kafka_brokers)]

    @property
    def registry_url(self) -> str:
        """The schema registry's Confluent-compatible API."""
        return self.schema_registry_url or local_registry_url(self.registry_port)

    @property
    def connect_endpoint(self) -> str:
        """The REST API of the Connect cluster: CONNECT_URL, or the local worker's."""
        return self.connect_url or f"http://127.0.0.1:{self.connect_port}"

    @property
    def postgres_url(self) -> str:
        return self.database_url or f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    @property
    def canonical_url(self) -> str:
        return self.web_canonical_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def worker_dir(self) -> Path:
        """The Faust data dir of this worker (table stores)."""
        return self.data_dir.absolute() / "worker"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir.absolute() / "kafka"


def local_registry_url(port: int) -> str:
    """The Confluent-compatible API of the local registry (Apicurio) on `port`."""
    return f"http://127.0.0.1:{port}/apis/ccompat/v7"


BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _parse(name: str, type_name: str, raw: str) -> object:
    try:
        if type_name == "bool":
            if raw.lower() not in BOOLEANS:
                raise ValueError(f"one of {', '.join(BOOLEANS)}")
            return BOOLEANS[raw.lower()]
        if "int" in type_name or "float" in type_name:
            value = (int if "int" in type_name else float)(raw)
            if value < 0:
                raise ValueError("must not be negative")
            return value
        if "Path" in type_name:
            return Path(raw).expanduser()
        return raw
    except ValueError as exc:
        raise SettingsError(f"{name.upper()}={raw!r}: {exc}") from None
