"""CLI commands of the app: `faust -A app <command>`."""

from __future__ import annotations

from pathlib import Path

from faust.cli import argument

from app import customers_loader, topics
from app.demo import DEMO_STOCK, make_demo_database
from app.main import app, settings
from app.trace import trace_order


@app.command()
async def seed_demo() -> None:
    """Publish the demo stock levels and load the demo customer database (re-running is harmless)."""
    await topics.create_topics()
    for product, stock in DEMO_STOCK.items():
        await topics.warehouse_inventory.send(key=product.encode(), value=str(stock).encode())
    await app.producer.flush()
    print(f"seeded stock for {', '.join(DEMO_STOCK)}")
    await _load(make_demo_database(settings.data_dir / "customers.sqlite"))


@app.command(argument("database", type=Path))
async def load_customers(self, database: Path) -> None:
    """Publish the new and changed rows of DATABASE's `customers` table (SQLite) to `customers`."""
    await topics.create_topics()
    await _load(database)


async def _load(database: Path) -> None:
    report = await customers_loader.load_customers(database, settings)
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
