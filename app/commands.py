"""CLI commands of the app: `faust -A app <command>`."""

from __future__ import annotations

from faust.cli import argument

from app import topics
from app.demo import DEMO_CUSTOMERS, DEMO_STOCK
from app.main import app, settings
from app.trace import trace_order


@app.command()
async def seed_demo() -> None:
    """Publish the demo stock levels and customers (absolute values: re-running is harmless)."""
    await topics.create_topics()
    for product, stock in DEMO_STOCK.items():
        await topics.warehouse_inventory.send(key=product.encode(), value=str(stock).encode())
    for customer in DEMO_CUSTOMERS:
        await topics.customers.send(key=str(customer.id).encode(), value=customer.to_bytes())
    await app.producer.flush()
    print(f"seeded stock for {', '.join(DEMO_STOCK)} and {len(DEMO_CUSTOMERS)} customers")


@app.command(argument("order_id"))
async def trace(self, order_id: str) -> None:
    """Print an order's records on the topics keyed by order id: command, events, validations."""
    lines = await trace_order(settings, order_id)
    print("\n".join(lines) if lines else f"no records for order {order_id}")
