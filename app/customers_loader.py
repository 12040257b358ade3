"""Customers from a legacy relational database to the `customers` topic, re-runnable.

`faust -A app load-customers DATABASE` reads the `customers` table of an SQLite database
(id, first_name, last_name, email, address, level, updated_at) and publishes the rows changed
since its last run. Its checkpoint, the (updated_at, id) of the last row it published, lives on
the compacted `customer-loader-checkpoints` topic, keyed by the database's path: a second run
publishes nothing, and a row edited with a later updated_at is published again.

The checkpoint is written after the broker acknowledged every row, so a run that dies midway
publishes its rows again next time, with the same values.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from app import topics
from app.schemas import Schemas
from app.settings import Settings
from app.kafka_clients import client_options
from app.trace import read_partitions
from models.requests import customer_from_row

log = logging.getLogger(__name__)

QUERY = """
    SELECT id, first_name, last_name, email, address, level, updated_at FROM customers
    WHERE updated_at > :updated_at OR (updated_at = :updated_at AND id > :id)
    ORDER BY updated_at, id
"""


@dataclass(frozen=True)
class Checkpoint:
    """The last row published: rows after it, in (updated_at, id) order, are new or changed."""

    updated_at: str = ""
    id: int = 0


@dataclass(frozen=True)
class LoadReport:
    published: int
    skipped: int
    checkpoint: Checkpoint


def changed_rows(database: Path, since: Checkpoint) -> list[sqlite3.Row]:
    if not database.is_file():
        raise FileNotFoundError(f"no database at {database}")
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(QUERY, {"updated_at": since.updated_at, "id": since.id}).fetchall()


async def load_customers(database: Path, settings: Settings, schemas: Schemas) -> LoadReport:
    """Publish the rows changed since the checkpoint, framed with the registered schema id of
    `customers` (`schemas` registered)."""
    source = str(database.absolute())
    since = await read_checkpoint(source, settings)
    rows = changed_rows(database, since)
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        published = skipped = 0
        for row in rows:
            try:
                customer = customer_from_row(dict(row))
            except (ValidationError, ValueError) as error:
                skipped += 1
                log.warning("customer row %s skipped: %s", row["id"], error)
                continue
            topic = topics.customers.name_in(settings)
            await producer.send(topic, key=str(customer.id).encode(),
                                value=schemas.frame(topic, customer.to_bytes()))
            published += 1
        checkpoint = Checkpoint(rows[-1]["updated_at"], rows[-1]["id"]) if rows else since
        await producer.flush()  # every row acknowledged before the checkpoint moves past it
        if rows:
            await producer.send_and_wait(
                topics.customer_loader_checkpoints.name_in(settings), key=source.encode(),
                value=json.dumps({"updatedAt": checkpoint.updated_at, "id": checkpoint.id}).encode(),
            )
    finally:
        await producer.stop()
    return LoadReport(published, skipped, checkpoint)


async def read_checkpoint(source: str, settings: Settings) -> Checkpoint:
    partition = TopicPartition(topics.customer_loader_checkpoints.name_in(settings), 0)
    records = await read_partitions(settings, [partition])
    mine = [record for record in records if record.key == source.encode()]
    if not mine:
        return Checkpoint()
    last = json.loads(mine[-1].value)
    return Checkpoint(last["updatedAt"], last["id"])
