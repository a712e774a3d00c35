"""The Hosts page with 1,000 hosts in a real browser, on a console of its own (the
shared one keeps a small fleet for the other pages' tests)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, Console, log_in, screenshot

pytestmark = pytest.mark.e2e
FLEET = 1000


def _batch(n: int, at: datetime, cpu: float) -> dict:
    stamp = at.isoformat()
    return {
        "host": f"node-{n:04d}",
        "samples": [
            {"metric": "cpu_usage_percent", "value": cpu, "time": stamp},
            {"metric": "memory_usage_percent", "value": 30 + n % 50, "time": stamp},
            {
                "metric": "disk_usage_percent",
                "value": 40 + n % 55,
                "labels": {"mount": "/"},
                "time": stamp,
            },
        ],
    }


def _push(console, token: str, batches: list[dict]) -> None:
    for start in range(0, len(batches), 500):
        answer = httpx.post(
            f"{console.url}/api/v1/metrics",
            json={"batches": batches[start : start + 500]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def fleet_console(tmp_path_factory):
    # Embedded always: in production mode the shared console already owns the database
    # and the Redis database the environment names, which a second one would empty.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("E2E_DATABASE_URL", raising=False)
        patch.delenv("E2E_REDIS_URL", raising=False)
        console = Console(tmp_path_factory.mktemp("fleet-console"))
    token = console.manage("create_api_token", "--user", "admin", "--scopes", "ingest").strip()
    now = datetime.now(UTC)
    batches = [_batch(n, now, float(n % 97)) for n in range(FLEET - 20)]
    # Twenty that stopped reporting ten minutes ago.
    batches += [_batch(n, now - timedelta(minutes=10), 20.0) for n in range(FLEET - 20, FLEET)]
    _push(console, token, batches)
    console.token = token
    yield console
    console.stop()


def test_the_fleet_reads_at_a_glance_and_opens_a_host(browser, fleet_console):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, fleet_console)
    page.goto(f"{fleet_console.url}/hosts/")
    expect(page.get_by_role("heading", name="Hosts")).to_be_visible()
    expect(page.locator(".fleet-row")).to_have_count(50)
    expect(page.locator("#fleet-summary")).to_contain_text(f"of {FLEET + 1} hosts")
    # Worst first: hosts over the CPU threshold lead.
    expect(page.locator(".fleet-row").first).to_contain_text("Critical load")
    expect(page.locator(".chip-stale .count")).to_have_text("20")
    screenshot(page, "hosts-1440")
    page.screenshot(path=str(SCREENSHOTS / "hosts-1440-top.png"))
    page.get_by_role("link", name="CPU").click()
    expect(page).to_have_url(re.compile(r"sort=cpu"))
    # The busiest agent is at 96 %; the console's own host may be busier still.
    busiest = page.locator(".fleet-row").first.locator(".fleet-value").first.inner_text()
    assert float(busiest.rstrip(" %")) >= 96.0, busiest
    page.fill("input[name=q]", "node-042")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".fleet-row")).to_have_count(10)
    page.get_by_role("link", name="node-0421", exact=True).click()
    expect(page.get_by_role("heading", name="System Monitor")).to_be_visible()
    expect(page).to_have_url(re.compile(r"host=node-0421"))
    context.close()


def test_the_fleet_updates_live_and_fits_a_phone(browser, fleet_console):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, fleet_console)
    # Fresh (the fleet's first batches are stale by now: this console collects every 5 s).
    _push(fleet_console, fleet_console.token, [_batch(7, datetime.now(UTC), 50.0)])
    page.goto(f"{fleet_console.url}/hosts/?q=node-0007")
    row = page.locator(".fleet-row", has_text="node-0007")
    expect(row).to_contain_text("OK")
    _push(fleet_console, fleet_console.token, [_batch(7, datetime.now(UTC), 99.0)])
    expect(row).to_contain_text("Critical load", timeout=15_000)
    page.goto(f"{fleet_console.url}/hosts/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    screenshot(page, "hosts-390")
    page.screenshot(path=str(SCREENSHOTS / "hosts-390-top.png"))
    context.close()
