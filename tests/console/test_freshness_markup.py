"""What the live pages carry for static/js/freshness.js to keep their ages current: the
server's clock, the collection interval and stale threshold, and the times it counts from."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.test import override_settings

from metrics.vitals import summarize
from tests.console.helpers import raise_alert
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


class _Tags(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def by_id(self, element_id: str) -> dict[str, str]:
        return next(attrs for _, attrs in self.tags if attrs.get("id") == element_id)

    def with_attr(self, name: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.tags if name in attrs]


def _host(at: datetime):
    return store("web-01", {"cpu_usage_percent": [(at, 12.0)]}).host


@override_settings(METRICS_COLLECTION_INTERVAL=7)
def test_the_system_monitor_carries_the_interval_threshold_and_sample_time(client, carol):
    at = datetime.now(UTC).replace(microsecond=0)
    _host(at)
    client.force_login(carol)
    html = client.get("/", {"host": "web-01"}).content.decode()
    tags = _Tags(html)
    live = tags.by_id("live")
    assert live["data-interval"] == "7"
    assert live["data-stale-after"] == "21"  # three intervals, as Host.is_stale
    assert live["data-host"] == "web-01"
    assert tags.by_id("vitals")["data-time"] == at.isoformat()
    assert tags.by_id("sample-age")["class"] == "sample-age"
    # The stale announcer and the paused notice are outside the swapped partial, so
    # they are the same nodes for the page's whole life (what aria-live needs).
    assert tags.by_id("sample-status")["aria-live"] == "polite"
    assert tags.by_id("live-paused")["aria-live"] == "polite"
    assert html.index('id="sample-status"') < html.index('id="vitals"')
    assert "js/freshness.js" in html and "js/console.js" in html


@override_settings(METRICS_COLLECTION_INTERVAL=5)
def test_a_stale_host_says_so_before_any_script_runs(client, carol):
    _host(datetime.now(UTC) - timedelta(minutes=2))
    client.force_login(carol)
    html = client.get("/", {"host": "web-01"}).content.decode()
    assert _Tags(html).by_id("sample-age")["class"] == "sample-age stale"
    assert "stale: no sample for over 15 s" in html


def test_a_live_frame_states_no_interval_it_does_not_know(db):
    # Frames are rendered without a request, so without the context processor.
    host = _host(datetime.now(UTC) - timedelta(minutes=2))
    html = render_to_string(
        "metrics/partials/vitals.html",
        {"host": host, "vitals": summarize(host), "live": True, "gauge_alerts": {}},
    )
    assert 'class="sample-age stale"' in html
    assert "over  s" not in html and "no sample for over" not in html


def test_every_page_carries_the_server_clock(client, carol):
    client.force_login(carol)
    before = time.time()
    html = client.get("/alerts/").content.decode()
    after = time.time()
    body = next(attrs for tag, attrs in _Tags(html).tags if tag == "body")
    now = float(body["data-now"])
    assert before - 1 <= now <= after + 1


def test_alert_rows_and_the_alert_page_carry_last_seen_for_the_clock(client, carol):
    alert = raise_alert("Disk full on db-01")
    client.force_login(carol)
    iso = alert.last_seen.isoformat()

    first = alert.first_seen.isoformat()
    listing = _Tags(client.get("/alerts/").content.decode())
    # How long it has fired (from first seen), and when it was last seen.
    assert [(a.get("data-prefix"), a["data-since"]) for a in listing.with_attr("data-since")] == [
        ("firing for", first),
        (None, iso),
    ]
    assert [a["datetime"] for t, a in listing.tags if t == "time"] == [iso]
    assert listing.by_id("live-paused")["role"] == "status"

    detail_html = client.get(f"/alerts/{alert.pk}/").content.decode()
    detail = _Tags(detail_html)
    assert [(a.get("data-prefix"), a["data-since"]) for a in detail.with_attr("data-since")] == [
        ("firing for", first),
        (None, iso),
    ]
    assert "last seen" in detail_html
    assert detail.by_id("live-paused")["role"] == "status"
    assert "js/freshness.js" in detail_html
