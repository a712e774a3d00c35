"""One alert filter for the three lists an operator reads: the API's, the console page's
and the live list's (its websocket decides with ``AlertFilter.matches``)."""

from __future__ import annotations

import re

import pytest

from alerts.filtering import AlertFilter
from alerts.models import Alert
from alerts.service import AlertService
from tests.console.helpers import raise_alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet():
    """Alerts whose resources share pieces of their names, in several states."""
    raise_alert("Disk full on db-01", "critical", "db-01", labels={"series": "disk_used"})
    raise_alert("Slow queries", "error", "orders-DB-02", alert_type="database_slow_query")
    raise_alert("CPU hot on web-01", "warning", "web-01", labels={"host": "edge-1"})
    closed = raise_alert("Memory on db-03", "warning", "db-03")
    AlertService().resolve_alert(closed.pk, resolved_by="bob")
    raise_alert("Queue depth", "info", "", metadata={"metric": "queue_depth"})


CASES = [
    {"status": "all"},
    {"status": "open"},
    {"status": "resolved"},
    {"status": "all", "resource": "db-0"},
    {"status": "all", "resource": "DB"},
    {"status": "all", "resource": "db-01"},
    {"status": "open", "severity": "error"},
    {"status": "all", "q": "slow"},
    {"status": "all", "q": "database"},
    {"status": "all", "host": "edge-1"},
    {"status": "all", "host": "db-01"},
    {"status": "all", "metric": "disk"},
    {"status": "all", "metric": "queue"},
    {"status": "all", "category": "system", "resource": "web"},
]


def _api_ids(api, params) -> set[int]:
    body = api.get("/alerts", {**params, "limit": 100}).json()
    return {item["id"] for item in body["items"]}


def _page_ids(client, params) -> set[int]:
    html = client.get("/alerts/", params).content.decode()
    return {int(pk) for pk in re.findall(r'<tr[^>]* id="alert-(\d+)"', html)}


def _live_ids(params) -> set[int]:
    from alerts.console import parse_filters

    chosen = parse_filters(params).selection()
    return {alert.pk for alert in Alert.objects.all() if chosen.matches(alert)}


@pytest.mark.parametrize("params", CASES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_it_finds_the_same_alerts_on_every_surface(
    fleet, carol, client, token_for, api_client, params
):
    client.force_login(carol)
    api = api_client(token_for(carol))
    assert _api_ids(api, params) == _page_ids(client, params) == _live_ids(params)


def test_it_matches_a_resource_anywhere_in_its_name_whatever_the_case(
    fleet, carol, token_for, api_client
):
    found = api_client(token_for(carol)).get("/alerts", {"resource": "db-0"}).json()["items"]
    assert sorted(item["resource"] for item in found) == ["db-01", "db-03", "orders-DB-02"]


def test_it_answers_the_database_and_memory_alike_for_each_field(fleet):
    for chosen in (
        AlertFilter(status="open", severity="warning", q="on"),
        AlertFilter(resource="web", category="system"),
        AlertFilter(metric="disk", status="open"),
    ):
        queried = set(Alert.objects.filtered(chosen).values_list("pk", flat=True))
        assert queried == {a.pk for a in Alert.objects.all() if chosen.matches(a)}
        assert queried  # each case finds something, so agreeing says something


def test_the_console_query_string_carries_every_filter_back():
    from datetime import timedelta
    from urllib.parse import urlencode

    from django.http import QueryDict
    from django.utils import timezone

    from alerts.console import Filters, parse_filters

    chosen = Filters(
        status="acknowledged",
        severity="warning",
        category="system",
        resource="db",
        host="web-01",
        metric="disk",
        q="slow",
        range="24h",
        group=7,
        page=3,
    )
    assert parse_filters(QueryDict(urlencode(chosen.as_query()))) == chosen
    now = timezone.now()
    asked = chosen.selection(now)
    assert asked.seen_since == now - timedelta(hours=24)
    assert {name: getattr(asked, name) for name in ("status", "host", "q", "group")} == {
        "status": "acknowledged",
        "host": "web-01",
        "q": "slow",
        "group": 7,
    }
    assert parse_filters(QueryDict()).selection().status == "open"
