"""Silence patterns run on a linear-time engine (RE2): patterns that explode a
backtracking engine match long resource names at once, and syntax RE2 lacks is refused
at save with the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import silences
from alerts.constants import Status
from alerts.models import Silence
from alerts.service import AlertService

pytestmark = pytest.mark.django_db

# Each takes a backtracking engine time doubling per character of a near-miss, and none
# has the "(a+)+" shape the old filter looked for.
RUNAWAY = [r"((a+))+$", r"(a|a)+$", r"(?:a|a)*$"]


def _silence(pattern: str) -> Silence:
    now = timezone.now()
    return Silence.objects.create(
        matchers=[{"field": "resource", "op": "regex", "value": pattern}],
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )


@pytest.mark.parametrize("pattern", RUNAWAY)
def test_runaway_patterns_match_a_long_near_miss_in_linear_time(pattern):
    silence = _silence(pattern)
    now = timezone.now()
    near_miss = {"resource": "a" * 100_000 + "!"}
    assert silences.matching([silence], near_miss, now) is None
    assert silences.matching([silence], {"resource": "aaaa"}, now) == silence


@pytest.mark.parametrize("pattern", RUNAWAY)
def test_an_alert_on_a_long_resource_is_raised_past_such_a_silence(pattern):
    _silence(pattern)
    alert = AlertService().create_system_alert("cpu_percent", 92, 80, "a" * 250 + "!")
    assert alert.status == Status.ACTIVE
    held = AlertService().create_system_alert("cpu_percent", 92, 80, "a" * 250)
    assert held.status == Status.SUPPRESSED


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(web)-\1", "no backreferences or lookaround"),
        (r"web-(?=01)", "no backreferences or lookaround"),
        (r"web-(", "not a valid regular expression"),
    ],
)
def test_the_api_refuses_what_re2_cannot_run_with_the_reason(
    bob, token_for, api_client, pattern, reason
):
    now = timezone.now()
    response = api_client(token_for(bob, "read,write")).post(
        "/silences",
        {
            "matchers": [{"field": "resource", "op": "regex", "value": pattern}],
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 422, response.content
    assert reason in response.json()["detail"]
    assert not Silence.objects.exists()


def test_a_pattern_stored_before_the_check_matches_nothing_instead_of_failing():
    silence = _silence("x")
    Silence.objects.filter(pk=silence.pk).update(
        matchers=[{"field": "resource", "op": "regex", "value": r"(db)\1"}]
    )
    silence.refresh_from_db()
    assert silences.matching([silence], {"resource": "dbdb"}, timezone.now()) is None
