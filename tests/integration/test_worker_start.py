"""A worker started by hand, as `make worker` does, into a DATA_DIR that does not exist yet; and
the demo data `make run` seeds."""

import asyncio
import subprocess

from app.demo import DEMO_STOCK
from app.processes import faust_command
from tests.integration.api import inventory_is
from tests.integration.conftest import eventually


def test_a_worker_with_a_new_data_dir_creates_it_and_becomes_healthy(new_app, tmp_path):
    data_dir = tmp_path / "new" / "data-dir"
    # The log goes elsewhere, so nothing but the worker itself creates DATA_DIR.
    new_app().add_worker(data_dir, log_file=tmp_path / "worker.log")
    assert (data_dir / "worker").is_dir()


async def test_the_demo_data_make_run_seeds_is_served(new_app, http):
    worker = new_app().add_worker()
    seeded = await asyncio.to_thread(
        subprocess.run, faust_command("seed-demo"), env=worker.environment,
        capture_output=True, text=True, timeout=120,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "seeded stock for JUMPERS, UNDERPANTS, STOCKINGS" in seeded.stdout
    assert "published 9 customers" in seeded.stdout
    await eventually(lambda: inventory_is(http, worker.url, "JUMPERS", stock=DEMO_STOCK["JUMPERS"]))

    async def customer_known():
        async with http.get(f"{worker.url}/v1/customers/1") as answer:
            return answer.status == 200

    await eventually(customer_known)
