"""State checks on the models: what an alert may do next (one table that the service,
the API's 409s and the console's buttons ask), and whether a silence mutes now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import policies
from alerts.models import Alert, Silence
from alerts.service import AlertService, AlertStateError
from tests.console.helpers import raise_alert

pytestmark = pytest.mark.django_db

# A Saturday, 23:30 in Paris (22:30 UTC).
SATURDAY_NIGHT = datetime(2026, 5, 2, 21, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("active", ["acknowledge", "resolve", "suppress"]),
        ("acknowledged", ["resolve", "suppress"]),
        ("suppressed", ["acknowledge", "resolve", "suppress"]),
        ("resolved", []),
        ("expired", []),
    ],
)
def test_it_lists_what_an_alert_may_do_in_each_status(status, actions):
    assert Alert(pk=7, status=status).actions == actions


def test_it_says_why_a_closed_alert_cannot_be_acknowledged():
    alert = Alert(pk=7, status="resolved")
    assert alert.refusal("acknowledge") == (
        "alert #7 is resolved; only open alerts can be acknowledged"
    )
    assert alert.refusal("resolve") == "alert #7 is already resolved"


def test_the_service_refuses_with_the_models_words():
    alert = raise_alert()
    AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob")
    with pytest.raises(AlertStateError) as refused:
        AlertService().acknowledge_alert(alert.pk, acknowledged_by="carol")
    assert str(refused.value) == Alert.objects.get(pk=alert.pk).refusal("acknowledge")
    assert "already acknowledged by bob" in str(refused.value)


def test_the_api_answers_409_with_the_models_words(bob, token_for, api_client):
    alert = raise_alert()
    AlertService().resolve_alert(alert.pk, resolved_by="bob")
    api = api_client(token_for(bob, "read,write"))
    response = api.client_patch(f"/alerts/{alert.pk}", {"action": "resolve"})
    assert response.status_code == 409
    assert response.json()["detail"] == Alert.objects.get(pk=alert.pk).refusal("resolve")


def test_an_acknowledged_alert_has_no_acknowledge_button(client, bob):
    alert = raise_alert()
    AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob")
    client.force_login(bob)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert 'value="resolve"' in page and 'value="acknowledge"' not in page


def _weekend_silence(**window) -> Silence:
    return Silence.objects.create(
        matchers=[{"field": "resource", "op": "eq", "value": "db-01"}],
        starts_at=SATURDAY_NIGHT - timedelta(days=30),
        ends_at=SATURDAY_NIGHT + timedelta(days=30),
        recurrence={"weekdays": [5, 6], "start": "22:00", "end": "02:00", **window},
    )


def test_a_silence_is_active_inside_its_bounds_and_its_weekly_window():
    silence = _weekend_silence(timezone="Europe/Paris")
    assert silence.is_active(SATURDAY_NIGHT)
    # Sunday 01:30 in Paris: still Saturday night's window.
    assert silence.is_active(SATURDAY_NIGHT + timedelta(hours=2))
    # Saturday afternoon: in force, but outside the window.
    afternoon = SATURDAY_NIGHT - timedelta(hours=8)
    assert silence.state(afternoon) == "active" and not silence.is_active(afternoon)
    assert not silence.is_active(SATURDAY_NIGHT + timedelta(days=60))


def test_the_policies_hold_an_alert_only_while_its_silence_is_active():
    _weekend_silence(timezone="Europe/Paris")
    fields = {"resource": "db-01", "alert_type": "disk", "severity": "warning"}
    assert policies.hold_for(fields, SATURDAY_NIGHT) is not None
    assert policies.hold_for(fields, SATURDAY_NIGHT - timedelta(hours=8)) is None
