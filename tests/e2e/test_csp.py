"""Under the Content-Security-Policy every page still works: its scripts run, its
sockets connect, and the browser reports no violation."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e

PAGES = ["/", "/hosts/", "/alerts/", "/alerts/patterns/", "/station/", "/services/", "/admin/"]


def test_every_page_runs_under_the_policy_without_a_violation(page, console):
    from playwright.sync_api import expect

    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    log_in(page, console)
    page.wait_for_url(f"{console.url}/")
    for path in PAGES:
        page.goto(f"{console.url}{path}")
        if page.locator("#live-badge").count():
            # The socket connected (connect-src) and console.js ran (script-src).
            expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)
        page.wait_for_load_state("networkidle")
    page.goto(f"{console.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=10_000)
    assert violations == []
