"""The legacy database: a real PostgreSQL 16, from PyPI (the `pgserver` wheel ships `initdb`,
`postgres` and the `pgoutput` plugin that Debezium reads changes with).

- `LocalPostgres` initialises its cluster under DATA_DIR/postgres once (user `postgres`, trust on
  127.0.0.1 only), starts `postgres` with `wal_level=logical` on 127.0.0.1:PG_PORT, waits until it
  answers, and stops it (it dies with the Python process that started it). PostgreSQL refuses to
  run as root: started by root, it runs as the user `nobody`.
- `create_demo_customers()` creates the legacy `customers` table with the nine demo customers of
  `app/demo_customers.sql` (same columns and rows), if the table is absent;
  `create_orders_table()` the `orders` table the JDBC sink keeps up to date.

With DATABASE_URL set nothing here is started.

    python -m app.postgres run    # a PostgreSQL in the foreground, with the demo customers
    python -m app.postgres psql   # psql on DATABASE_URL or the local server (`make psql`)
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import psycopg

from app.broker import port_is_open
from app.processes import LocalServer
from app.settings import Settings
from models.records import STATE_RANK

#: Where the pgserver wheel keeps PostgreSQL's programs.
BIN = Path(find_spec("pgserver").origin).parent / "pginstall" / "bin"
#: Who runs PostgreSQL when root starts it.
UNPRIVILEGED_USER = "nobody"
DEMO_ROWS = Path(__file__).parent / "demo_customers.sql"
CUSTOMERS_TABLE = """
    CREATE TABLE IF NOT EXISTS customers (
        id          integer PRIMARY KEY,
        first_name  text NOT NULL,
        last_name   text NOT NULL,
        email       text NOT NULL,
        address     text NOT NULL,
        level       text NOT NULL DEFAULT 'bronze',
        updated_at  timestamptz NOT NULL DEFAULT now()
    )
"""


#: The SQL view of orders that the JDBC sink keeps (app/kafka/connect/connectors/orders-to-sql.json):
#: the latest state of each order, by id. A record of `orders` may come again after a later one
#: (a CREATED redelivered after a crash): the trigger keeps an order's state from moving back, by
#: the rank the query side uses.
ORDERS_TABLE = f"""
    CREATE TABLE IF NOT EXISTS orders (
        id             text PRIMARY KEY,
        customer_id    bigint NOT NULL,
        state          text NOT NULL,
        product        text NOT NULL,
        quantity       bigint NOT NULL,
        price          double precision NOT NULL,
        created_at     timestamptz,
        failed_checks  text[],
        reason         text
    );
    CREATE OR REPLACE FUNCTION order_state_rank(state text) RETURNS integer
        LANGUAGE sql IMMUTABLE
        AS $$ SELECT CASE state {" ".join(f"WHEN '{state.value}' THEN {rank}" for state, rank in STATE_RANK.items())} END $$;
    CREATE OR REPLACE FUNCTION orders_never_move_back() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF order_state_rank(NEW.state) <= order_state_rank(OLD.state) THEN
            RETURN NULL;  -- not news: the row keeps its later state
        END IF;
        RETURN NEW;
    END $$;
    CREATE OR REPLACE TRIGGER orders_never_move_back BEFORE UPDATE ON orders
        FOR EACH ROW EXECUTE FUNCTION orders_never_move_back();
"""


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be started."""


class LocalPostgres(LocalServer):
    """A PostgreSQL on 127.0.0.1:`port`, its cluster in `data_dir`."""

    #: A fast shutdown: SIGTERM's smart shutdown waits for every client (Debezium's replication
    #: connection) to leave.
    stop_signal = signal.SIGINT

    def __init__(self, *, port: int, data_dir: Path) -> None:
        self.port, self.data_dir = port, data_dir.absolute()
        self.process: subprocess.Popen | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalPostgres:
        return cls(port=settings.pg_port, data_dir=settings.data_dir.absolute() / "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        if port_is_open(self.port):
            raise PostgresError(f"port {self.port} is taken: is another PostgreSQL running? "
                                "Stop it, choose another PG_PORT, or set DATABASE_URL.")
        user = self._user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)
        command = [
            str(BIN / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            # Debezium reads changes through a logical replication slot.
            "-c", "wal_level=logical", "-c", "max_replication_slots=20", "-c", "max_wal_senders=20",
        ]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._launch(command, self.log_file, lambda: self._wait_until(
            self.answers, "PostgreSQL", timeout, self.log_file, PostgresError),
            user=user)
        return self

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _user(self) -> str | None:
        """Who runs PostgreSQL: None (this process's user) unless that is root."""
        if os.geteuid() != 0:
            return None
        for folder in [BIN, *self.data_dir.parents]:
            if folder.exists() and not os.stat(folder).st_mode & 0o001:
                raise PostgresError(
                    f"PostgreSQL does not run as root, so it runs as {UNPRIVILEGED_USER}, who "
                    f"cannot enter {folder}: `chmod o+x {folder}`, or set DATA_DIR elsewhere."
                )
        return UNPRIVILEGED_USER

    def _initdb(self, user: str | None) -> None:
        print(f"Creating a PostgreSQL cluster in {self.data_dir} ...", file=sys.stderr)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        result = subprocess.run(
            [str(BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-instructions"],
            capture_output=True, text=True, user=user,
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def create_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url` if absent; return its URL."""
    with psycopg.connect(url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def create_demo_customers(url: str) -> None:
    """The legacy `customers` table with the demo customers, unless it exists already."""
    with psycopg.connect(url) as connection:
        exists = connection.execute("SELECT to_regclass('public.customers')").fetchone()[0]
        if exists is None:
            connection.execute(CUSTOMERS_TABLE)
            connection.execute(_demo_insert())


def create_orders_table(url: str) -> None:
    """The `orders` table the JDBC sink writes, if absent."""
    with psycopg.connect(url) as connection:
        connection.execute(ORDERS_TABLE)


def _demo_insert() -> str:
    """The INSERT of `app/demo_customers.sql`: the same nine rows in both databases."""
    statements = DEMO_ROWS.read_text().split(";")
    return next(statement for statement in statements if "INSERT INTO" in statement)


def main(argv: list[str]) -> int:
    settings = Settings.from_env()
    if argv[:1] == ["psql"]:  # the wheel's psql on DATABASE_URL (or the local server)
        os.execv(BIN / "psql", ["psql", settings.postgres_url, *argv[1:]])
    if argv != ["run"]:
        print("usage: python -m app.postgres run | psql [psql's options]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with LocalPostgres.from_settings(settings) as server:
        create_demo_customers(server.url)
        print(f"PostgreSQL at {server.url} (`psql {server.url}`); Ctrl-C stops it", flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
