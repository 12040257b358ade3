"""Demo data that can validate: stock for every demo product, the reference's nine customers
in a legacy SQL database (`demo_customers.sql`), loaded like any customer database."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

#: Absolute stock levels of the demo products.
DEMO_STOCK = {"JUMPERS": 100, "UNDERPANTS": 200, "STOCKINGS": 150}

DEMO_SQL = Path(__file__).with_name("demo_customers.sql")


def make_demo_database(path: Path) -> Path:
    """The demo's customer database at `path`, built from `demo_customers.sql` if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path)) as connection:
            connection.executescript(DEMO_SQL.read_text())
    return path
