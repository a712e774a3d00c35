"""axe-core (the npm package, installed by .ci/run into .ci/node) runs in chromium on
every console page and the admin's main pages: none may have a serious or critical
violation of WCAG 2.2 A/AA or of axe's best practices."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, log_in, screenshot
from tests.text import captured

pytestmark = pytest.mark.e2e

AXE = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"

CONSOLE_PAGES = [
    "/",
    "/alerts/",
    "/alerts/?status=all",
    "/alerts/{alert}/",
    "/alerts/patterns/",
    "/station/",
    "/services/",
    "/oncall/",
    "/api/v1/docs",
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/alerts/alert/",
    "/admin/alerts/alert/{alert}/change/",
    "/admin/alerts/alertrule/",
    "/admin/alerts/alertrule/add/",
    "/admin/alerts/alertrule/{rule}/change/",
    "/admin/alerts/silence/",
    "/admin/alerts/silence/add/",
    "/admin/alerts/inhibitionrule/",
    "/admin/notifications/notificationchannel/",
    "/admin/notifications/notificationchannel/add/",
    "/admin/notifications/routingrule/",
    "/admin/notifications/routingrule/add/",
    "/admin/notifications/notification/",
    "/admin/healthchecks/serviceendpoint/",
    "/admin/healthchecks/serviceendpoint/add/",
    "/admin/metrics/host/",
    "/admin/opsconsole/auditentry/",
]
# Shown in the failure, one line per node, so a failure says what to fix.
SERIOUS = {"serious", "critical"}


def _axe(page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: npm install --prefix .ci/node (see .ci/run); {AXE}")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
        }"""
    )
    return result


def _ids(console) -> dict[str, str]:
    # One of each severity, so every badge and count pill is measured in colour.
    for severity in ("info", "error", "critical"):
        console.manage("send_test_alert", "--severity", severity, "--resource", f"axe-{severity}")
    out = console.manage("send_test_alert", "--severity", "warning", "--resource", "axe-01")
    alert = captured(r"alert #(\d+)", out)
    rule = console.manage(
        "shell", "-c", "from alerts.models import AlertRule; print(AlertRule.objects.first().pk)"
    )
    return {"alert": alert, "rule": rule.strip().splitlines()[-1]}


@pytest.fixture
def page(browser):
    # axe is injected as a script tag, which the console's own policy (script-src
    # 'self') rightly refuses; the policy itself is tested in test_csp.py.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    yield context.new_page()
    context.close()


def test_no_page_has_a_serious_or_critical_violation(page, console):
    ids = _ids(console)
    log_in(page, console)
    page.wait_for_url(f"{console.url}/")
    report: dict[str, list[dict]] = {}
    for template in CONSOLE_PAGES + ADMIN_PAGES:
        path = template.format(**ids)
        page.goto(f"{console.url}{path}")
        page.wait_for_load_state("networkidle")
        if path.startswith("/api/v1/docs"):
            page.wait_for_selector(".swagger-ui .info", timeout=10_000)
        found = [v for v in _axe(page) if v["impact"] in SERIOUS]
        if found:
            report[path] = found
        if os.environ.get("E2E_SCREENSHOTS"):
            # Every page at a laptop's 1440 px and a phone's 390 px, to look at.
            name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()) or "home"
            for width in (1440, 390):
                page.set_viewport_size({"width": width, "height": 900})
                screenshot(page, f"page-{name}-{width}")
            page.set_viewport_size({"width": 1280, "height": 800})
    page.context.clear_cookies()
    page.goto(f"{console.url}/login/")
    found = [v for v in _axe(page) if v["impact"] in SERIOUS]
    if found:
        report["/login/"] = found
    out = Path(ROOT / "var" / "axe-report.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    assert report == {}, json.dumps(report, indent=1)
