"""The dashboard in a real browser (Debian's headless Chromium, driven by Playwright) against a
worker on the real broker: a person places an order with the page's form, watches its row turn
VALIDATED without a reload, and opens its timeline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.api import inventory, new_customer, new_product, put_customer, set_stock
from tests.integration.conftest import unique

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: `apt-get install chromium` (.ci/run does)")

#: Chromium on a machine without a network beyond localhost: no calls home at start.
QUIET = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


async def test_a_person_places_an_order_in_the_browser_and_watches_it_validate(
    new_app, http, tmp_path
):
    from playwright.async_api import async_playwright, expect

    worker = new_app().add_worker()
    customer, product = new_customer(), new_product()
    await put_customer(http, worker.url, customer)
    await set_stock(http, worker.url, product, 5)
    order_id = unique("web")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=QUIET + (["--no-sandbox"] if os.geteuid() == 0 else []))
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1100})
            await page.goto(f"{worker.url}/")
            await expect(page.get_by_test_id("status")).to_have_text("live", timeout=30_000)
            await page.evaluate("window.loadedOnce = true")  # gone if the page reloads

            form = page.get_by_test_id("place-form")
            await form.get_by_label("Order id").fill(order_id)
            await form.get_by_label("Customer").fill(str(customer))
            await form.get_by_label("Product").fill(product)
            await form.get_by_label("Quantity").fill("2")
            await form.get_by_label("Price").fill("12.50")
            await form.get_by_role("button", name="Place").click()
            await expect(page.get_by_test_id("placed")).to_contain_text(f"Placed {order_id}")

            row = page.locator(f'tr[data-order="{order_id}"]')
            await expect(row.get_by_test_id("state")).to_have_text("VALIDATED", timeout=30_000)
            assert await page.evaluate("window.loadedOnce") is True
            levels = await inventory(http, worker.url, product)
            cells = [str(levels[name]) for name in ("product", "stock", "reserved", "available")]
            stock_row = page.get_by_test_id("stock").locator("tr", has_text=product)
            await expect(stock_row.locator("td")).to_have_text(cells, timeout=10_000)

            await row.get_by_role("link", name=order_id).click()
            timeline = page.get_by_test_id("timeline")
            await expect(timeline).to_contain_text("place 2 x")
            await expect(timeline).to_contain_text("CREATED")
            await expect(timeline).to_contain_text("FRAUD_CHECK PASS")
            await expect(timeline).to_contain_text("VALIDATED")
            await page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
        finally:
            await browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
