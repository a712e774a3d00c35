"""Why was I paged, why wasn't I: every decision about an alert, in order, on its page
and at /api/v1/alerts/{id}/decisions."""

from __future__ import annotations

import pytest

from alerts.models import Silence
from alerts.service import AlertService
from opsconsole.bootstrap import load_defaults
from tests.notifications.helpers import flush_groups, spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(make_channel, receiver):
    load_defaults()
    make_channel("slack", "ops-slack", receiver=receiver)
    make_channel("email", "ops-mail", config={"to": ["ops@example.com"]}, min_severity="info")
    make_channel("sms", "phones", receiver=receiver, min_severity="critical")


def _decisions(api, alert, **params):
    response = api.get(f"/alerts/{alert.pk}/decisions", params)
    assert response.status_code == 200, response.content
    return response.json()["decisions"]


def _said(decisions) -> list[str]:
    return [f"{d['stage']}: {d['outcome']}: {d['summary']}" for d in decisions]


def test_every_decision_from_rule_to_delivery_in_order(
    console, receiver, alice, token_for, api_client, django_capture_on_commit_callbacks
):
    api = api_client(token_for(alice))
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertService().create_alert(spec(priority="warning"))
        AlertService().create_alert(spec(priority="warning"))  # the same again
    before = _said(_decisions(api, alert))
    assert any(s.startswith("group: waiting: group #") for s in before)
    assert (
        f"channel: not sent: alert #{alert.pk} was not sent to ops-slack because its group #"
        in "\n".join(before)
    )

    flush_groups(django_capture_on_commit_callbacks)
    said = _said(_decisions(api, alert))
    stages = [s.split(":")[0] for s in said]
    assert stages[0] == "rule" and said[0].startswith("rule: fired: raised by disk_full")
    assert any(
        s.startswith("dedup: deduplicated: the same alert again (now seen 2 times)") for s in said
    )
    assert any("joined group #" in s and "'Info and warning to Slack'" in s for s in said)
    assert any(s.startswith("delivery: sent: firing message to ops-slack: sent") for s in said)
    assert "route: matched: routing rule 'Info and warning to Slack' sends to ops-slack" in said
    assert (
        "route: not matched: routing rule 'Errors to email and Slack': "
        "severity warning is not one of error" in said
    )
    assert f"channel: sent: alert #{alert.pk} was sent to ops-slack" in "\n".join(said)
    assert (
        f"channel: not sent: alert #{alert.pk} was not sent to ops-mail because no routing "
        "rule sends this alert to it" in said
    )
    assert (
        f"channel: not sent: alert #{alert.pk} was not sent to phones because the alert is "
        "warning, below the channel's minimum (critical)" in said
    )
    # The dated decisions come in time order, the standing ones after them.
    dated = [d["at"] for d in _decisions(api, alert) if d["at"]]
    assert dated == sorted(dated)


def test_one_channels_view_and_a_silence_named(
    console, alice, token_for, api_client, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    silence = Silence.objects.create(
        matchers=[{"field": "resource", "op": "=", "value": "db-01"}],
        starts_at=timezone.now() - timedelta(minutes=1),
        ends_at=timezone.now() + timedelta(hours=1),
        comment="disk swap",
    )
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertService().create_alert(spec(priority="critical"))
    flush_groups(django_capture_on_commit_callbacks)
    api = api_client(token_for(alice))
    mine = _decisions(api, alert, channel="phones")
    assert {d["channel"] for d in mine} <= {"", "phones"}
    [verdict] = [d for d in mine if d["stage"] == "channel"]
    assert verdict["summary"] == (
        f"alert #{alert.pk} was not sent to phones because the alert is held back: "
        f"silenced by silence #{silence.pk}: disk swap"
    )
    assert any(d["stage"] == "policy" and d["outcome"] == "held" for d in mine)


def test_the_alert_page_lists_the_decisions(console, client, alice):
    alert = AlertService().create_alert(spec(priority="error"))
    client.force_login(alice)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Why it was (not) sent" in page
    assert "routing rule &#x27;Errors to email and Slack&#x27; sends to" in page


def test_an_unknown_alert_is_a_404(alice, token_for, api_client):
    response = api_client(token_for(alice)).get("/alerts/999999/decisions")
    assert response.status_code == 404
