"""CLI commands of the app: `faust -A app <command>`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click
from faust.cli import argument, option

from app import customers_loader, topics
from app.demo import DEMO_STOCK, make_demo_database
from app.framework.worker import EXIT_KAFKA_REFUSED
from app.main import app, settings
from app.replication import UnderReplicated
from app.schemas import RegistryUnavailable, TopicSchema
from app.rebuild import VIEWS, compare, keys, report, send_repairs
from app.trace import trace_order


@app.command(option("--customers/--no-customers", default=True,
                    help="Load the demo customers from SQLite (not when Debezium brings them)."))
async def seed_demo(self, customers: bool) -> None:
    """Publish the demo stock levels and load the demo customer database (re-running is harmless)."""
    await _prepare()
    await app.maybe_start_producer()
    sent = [await app.outputs.send(topics.warehouse_inventory, product, str(stock).encode())
            for product, stock in DEMO_STOCK.items()]
    await asyncio.gather(*sent)
    print(f"seeded stock for {', '.join(DEMO_STOCK)}")
    if customers:
        await _load(make_demo_database(settings.data_dir / "customers.sqlite"))


@app.command(argument("database", type=Path))
async def load_customers(self, database: Path) -> None:
    """Publish the new and changed rows of DATABASE's `customers` table (SQLite) to `customers`."""
    await _prepare()
    await _load(database)


async def _prepare() -> None:
    """What a worker does before it writes: the topics, the schemas (records carry their ids)."""
    try:
        await topics.create_topics()
    except UnderReplicated as refused:
        print(f"faust-orders: {refused}", file=sys.stderr)
        raise SystemExit(EXIT_KAFKA_REFUSED) from None
    await app.schemas.register()


async def _load(database: Path) -> None:
    report = await customers_loader.load_customers(database, settings, app.schemas)
    checkpoint = report.checkpoint
    print(
        f"published {report.published} customers from {database} ({report.skipped} rows skipped); "
        f"checkpoint updated_at={checkpoint.updated_at!r} id={checkpoint.id}"
    )


@app.command(argument("order_id"))
async def trace(self, order_id: str) -> None:
    """Print an order's records on the topics keyed by order id: command, events, validations."""
    lines = await trace_order(settings, order_id)
    print("\n".join(lines) if lines else f"no records for order {order_id}")


@app.command(argument("action", type=click.Choice(["check", "export"])),
             argument("directory", type=Path, required=False))
async def schemas(self, action: str, directory: Path | None) -> None:
    """`check`: compare the code's record schemas with the registry's, exit 1 on a change that
    breaks readers (for CI); `export DIRECTORY`: write them there, one `<subject>.json` each."""
    known = list(app.schemas.topics.values())
    if action == "export":
        if directory is None:
            _fail("usage: faust -A app schemas export DIRECTORY")
        directory.mkdir(parents=True, exist_ok=True)
        for topic in known:
            (directory / f"{topic.subject}.json").write_text(json.dumps(topic.schema, indent=2) + "\n")
        print(f"wrote {len(known)} schemas to {directory}")
        return
    try:
        verdicts = [await _verdict(topic) for topic in known]
    except RegistryUnavailable as exc:
        _fail(f"the schema registry did not answer: {exc}")
    finally:
        await app.schemas.close()
    print("\n".join(line for line, _ in verdicts))
    if any(breaking for _, breaking in verdicts):
        raise SystemExit(1)


@app.command(argument("view", type=click.Choice(sorted(VIEWS))),
             option("--apply", is_flag=True,
                    help="Write the rebuilt value of each differing key into the live table."),
             option("--show", type=int, default=20, help="Differences to print in full."))
async def rebuild(self, view: str, apply: bool, show: int) -> None:
    """Rebuild VIEW from its source topic, compare it with the live table and print the keys
    that differ; exit 1 if any do (after --apply: if any are left)."""
    comparison = await compare(VIEWS[view], progress=True)
    print("\n".join(report(comparison, show)))
    if apply and comparison.different:
        await _prepare()
        repaired = len(comparison.different)
        comparison = await send_repairs(comparison)
        print(f"applied: {keys(repaired - len(comparison.different))} repaired, "
              f"{len(comparison.different):,} not (changed meanwhile: rebuild again)")
    elif comparison.different:
        print("run again with --apply to write the rebuilt values")
    if comparison.different:
        raise SystemExit(1)


@app.command()
async def check(self) -> None:
    """For each view with a source of truth on the log, the keys where the live table and the
    log's answer differ; exit 1 on any difference."""
    found = 0
    for view in VIEWS.values():
        comparison = await compare(view, progress=True)
        found += len(comparison.different)
        print("\n".join(report(comparison, show=5)))
    print("consistent" if not found else f"{keys(found)} differ: see `faust -A app rebuild VIEW`")
    if found:
        raise SystemExit(1)


def _fail(message: str) -> None:
    """End a command with `message` and exit status 2 (a CLI's usage or set-up error)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


async def _verdict(topic: TopicSchema) -> tuple[str, bool]:
    """A line about one subject, and whether the code's schema breaks it."""
    latest = await app.schemas.registry.latest(topic.subject)
    if latest is None:
        return f"new         {topic.subject} (registered when a worker starts)", False
    if latest[1] == topic.schema:
        return f"unchanged   {topic.subject} (id {latest[0]})", False
    problems = await app.schemas.problems(topic)
    if problems:
        return f"BREAKING    {topic.subject}: " + "; ".join(problems), True
    return f"compatible  {topic.subject} (a new version when a worker starts)", False
