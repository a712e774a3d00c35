from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


def _web01(cpu=42.0, at=None):
    at = at or datetime.now(UTC)
    return store(
        "web-01",
        {
            "cpu_usage_percent": [(at, cpu)],
            "memory_usage_percent": [(at, 61.0)],
            'disk_usage_percent{mount="/"}': [(at, 30.0)],
            "load_1m": [(at - timedelta(minutes=5), 0.5), (at, 1.25)],
        },
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_an_account_without_a_role_is_told_which_role_it_needs(client, mallory):
    client.force_login(mallory)
    response = client.get("/")
    assert response.status_code == 403
    assert b"Viewers" in response.content and b"mallory" in response.content


def test_a_viewer_sees_gauges_with_units_and_the_live_socket(client, carol):
    _web01()
    client.force_login(carol)
    response = client.get("/", {"host": "web-01"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="gauge-cpu"' in html and '<div class="gauge-value">42.0 %</div>' in html
    host_id = response.context["host"].pk
    assert f'ws-connect="/ws/vitals/{host_id}/"' in html


@override_settings(LOCAL_HOSTNAME="not-a-known-host")
def test_an_empty_console_explains_how_hosts_appear(client, carol):
    client.force_login(carol)
    response = client.get("/")
    assert response.status_code == 200
    assert b"No samples yet" in response.content
    assert b"manage.py agent" in response.content


def test_an_unknown_host_is_a_404_that_names_it(client, carol):
    _web01()
    client.force_login(carol)
    response = client.get("/", {"host": "nope"})
    assert response.status_code == 404


def test_the_partials_render_for_htmx(client, carol):
    host = _web01().host
    client.force_login(carol)
    vitals = client.get(f"/system/{host.pk}/vitals/")
    assert vitals.status_code == 200 and b'id="vitals"' in vitals.content
    # 6 h charts read minute roll-ups; the minutes not rolled up yet come from raw rows.
    charts = client.get(f"/system/{host.pk}/charts/", {"range": "6h"})
    assert charts.status_code == 200
    # No roll-up has run, so every line drawn comes from that raw tail: CPU, memory and
    # load have samples, the three I/O charts have none.
    assert charts.content.count(b"<svg") == 3
    assert charts.content.count(b"No samples in this range yet.") == 3
    # An unknown range falls back to the default rather than failing.
    assert client.get(f"/system/{host.pk}/charts/", {"range": "17y"}).status_code == 200
    assert client.get("/system/999999/vitals/").status_code == 404


def test_the_admin_lists_hosts_and_their_samples(client, alice):
    from opsconsole.bootstrap import load_defaults

    load_defaults()
    host = _web01().host
    client.force_login(alice)
    assert client.get("/admin/metrics/host/").status_code == 200
    samples = client.get(f"/admin/metrics/host/{host.pk}/samples/")
    assert samples.status_code == 200
    assert b"cpu_usage_percent" in samples.content


def test_the_admin_shows_a_new_token_once(client, alice):
    from opsconsole.bootstrap import load_defaults
    from opsconsole.models import ApiToken, hash_token

    load_defaults()
    client.force_login(alice)
    response = client.post(
        "/admin/opsconsole/apitoken/add/",
        {"user": alice.pk, "name": "agent db-01", "scopes": ["ingest"]},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="agent db-01")
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.prefix in m and "not be shown again" in m for m in shown)
    raw = next(m for m in shown if token.prefix in m).split(": ", 1)[1].split(" ")[0]
    # What was shown is the token itself; only its hash is stored.
    assert token.token_hash == hash_token(raw) and raw != token.token_hash


def test_a_gap_in_the_data_is_a_gap_in_the_chart():
    from datetime import UTC, datetime, timedelta

    from metrics.charts import build
    from metrics.rollups import Point

    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    times = [start + timedelta(minutes=m) for m in [*range(0, 20), *range(50, 60)]]
    points = [Point(time=t, value=10.0, min=10.0, max=10.0, count=1) for t in times]
    chart = build("CPU", "percent", points, start, start + timedelta(hours=1))
    # Half an hour without samples: two lines, not one stroke across the gap.
    assert len(chart.lines) == 2
    assert len(chart.lines[0].split()) == 20 and len(chart.lines[1].split()) == 10
