"""CLI commands of the app: `faust -A app <command>`."""

from __future__ import annotations

from app import topics
from app.demo import DEMO_CUSTOMERS, DEMO_STOCK
from app.main import app


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
