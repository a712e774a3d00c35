"""The alerts console list: who sees it, what it shows, and how it filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.service import AlertService
from tests.console.helpers import raise_alert

pytestmark = pytest.mark.django_db


def _titles(response) -> list[str]:
    return [alert.title for alert in response.context["page"].alerts]


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/alerts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/alerts/")


def test_it_tells_an_account_without_a_role_which_role_it_needs(client, mallory):
    client.force_login(mallory)
    response = client.get("/alerts/")
    assert response.status_code == 403
    assert b"Viewers" in response.content


def test_it_lists_open_alerts_most_severe_then_newest_first(client, carol):
    raise_alert("Old warning", "warning")
    raise_alert("A critical one", "critical")
    raise_alert("New warning", "warning")
    resolved = raise_alert("Gone", "critical")
    AlertService().resolve_alert(resolved.pk, resolved_by="bob")
    client.force_login(carol)
    response = client.get("/alerts/")
    assert _titles(response) == ["A critical one", "New warning", "Old warning"]


def test_the_header_counts_open_alerts_by_severity(client, carol):
    raise_alert("One", "critical")
    raise_alert("Two", "warning")
    raise_alert("Three", "warning")
    client.force_login(carol)
    response = client.get("/alerts/")
    assert response.context["counts"] == {"critical": 1, "error": 0, "warning": 2, "info": 0}
    assert b"<strong>2</strong> warning" in response.content


def test_filters_in_the_url_narrow_the_list(client, carol):
    raise_alert("CPU hot on web-01", "error", resource="web-01")
    raise_alert("CPU hot on web-02", "warning", resource="web-02")
    raise_alert("Disk on web-01", "info", resource="web-01")
    client.force_login(carol)
    assert _titles(client.get("/alerts/", {"host": "web-01", "severity": "warning"})) == [
        "CPU hot on web-01"
    ]
    assert _titles(client.get("/alerts/", {"q": "disk"})) == ["Disk on web-01"]
    assert len(_titles(client.get("/alerts/", {"severity": "high"}))) == 1  # an alias


def test_the_time_range_filter_drops_alerts_not_seen_lately(client, carol):
    stale = raise_alert("Seen yesterday")
    Alert.objects.filter(pk=stale.pk).update(last_seen=timezone.now() - timedelta(days=1))
    raise_alert("Seen now")
    client.force_login(carol)
    assert _titles(client.get("/alerts/", {"range": "1h"})) == ["Seen now"]


def test_a_bad_filter_is_named_and_ignored_not_a_500(client, carol):
    raise_alert("Still shown")
    client.force_login(carol)
    response = client.get("/alerts/", {"severity": "apocalyptic", "range": "1y", "page": "x"})
    assert response.status_code == 200
    assert _titles(response) == ["Still shown"]
    assert b"Severity filter ignored" in response.content
    assert b"Unknown time range" in response.content


def test_it_pages_fifty_at_a_time_and_keeps_filters_in_page_links(client, carol):
    for n in range(55):
        raise_alert(f"Alert {n}", resource=f"host-{n}")
    client.force_login(carol)
    first = client.get("/alerts/", {"severity": "warning"})
    assert len(_titles(first)) == 50
    assert b"page=2" in first.content and b"severity=warning" in first.content
    second = client.get("/alerts/", {"severity": "warning", "page": 2})
    assert len(_titles(second)) == 5


def test_an_empty_console_says_all_clear(client, carol):
    client.force_login(carol)
    assert b"All clear: no open alerts" in client.get("/alerts/").content


def test_a_viewer_gets_no_action_controls(client, carol):
    raise_alert("Look only")
    client.force_login(carol)
    content = client.get("/alerts/").content
    assert b"Look only" in content
    assert b'data-action="acknowledge"' not in content and b'id="bulk"' not in content


def test_a_responder_gets_row_and_bulk_actions(client, bob):
    raise_alert("Act on me")
    client.force_login(bob)
    content = client.get("/alerts/").content
    assert b'data-action="acknowledge"' in content and b'id="bulk"' in content


def test_the_page_opens_its_socket_with_its_own_filters(client, carol):
    client.force_login(carol)
    content = client.get("/alerts/", {"severity": "error"}).content.decode()
    assert 'ws-connect="/ws/alerts/?status=open&amp;severity=error' in content


def test_a_system_monitor_gauge_links_to_the_alerts_it_raised(client, carol):
    from datetime import UTC, datetime

    from tests.metrics.helpers import store

    now = datetime.now(UTC)
    store("web-01", {"cpu_usage_percent": [(now, 97.0)], "memory_usage_percent": [(now, 40.0)]})
    AlertService().create_system_alert("cpu_usage_percent", 97, 80, "web-01")
    raise_alert("Memory elsewhere", resource="web-02", metadata={"metric": "memory_percent"})
    client.force_login(carol)
    body = client.get("/", {"host": "web-01"}).content.decode()
    assert 'href="/alerts/?host=web-01&amp;metric=cpu">1 open alert →' in body
    assert "metric=memory" not in body  # that alert is on another host
    linked = client.get("/alerts/", {"host": "web-01", "metric": "cpu"})
    assert _titles(linked) == ["High CPU Usage - web-01"]
