"""A schedule's or an escalation policy's PATCH changes what it names and keeps the rest
(the rotations, the steps); a null, an unknown field or a taken name is a 4xx."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from oncall import editing
from oncall.models import EscalationPolicy, Schedule


@pytest.fixture
def admin(alice, token_for, api_client):
    return api_client(token_for(alice, "read,write"))


@pytest.fixture
def primary(db):
    User.objects.create_user("ann")
    User.objects.create_user("ben")
    rotation = {"name": "weekly", "start_date": "2026-01-05", "participants": ["ann", "ben"]}
    return editing.save_schedule({"name": "Primary", "time_zone": "Europe/Berlin",
                                  "rotations": [rotation]})  # fmt: skip


def test_a_schedule_patch_keeps_what_it_does_not_name(admin, primary):
    changed = admin.client_patch(f"/schedules/{primary.pk}", {"description": "the day team"})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["name"], body["time_zone"], body["description"]) == (
        "Primary",
        "Europe/Berlin",
        "the day team",
    )
    assert body["rotations"][0]["participants"] == ["ann", "ben"]
    rotation = {"name": "daily", "length": "daily", "start_date": "2026-02-02",
                "participants": ["ben"]}  # fmt: skip
    replaced = admin.client_patch(f"/schedules/{primary.pk}", {"rotations": [rotation]})
    assert [r["name"] for r in replaced.json()["rotations"]] == ["daily"]
    assert replaced.json()["description"] == "the day team"


def test_a_schedule_patch_refuses_nulls_unknowns_and_taken_names(
    admin, primary, carol, token_for, api_client
):
    editing.save_schedule({"name": "Other"})
    path = f"/schedules/{primary.pk}"
    assert admin.client_patch(path, {"name": None}).status_code == 422
    assert admin.client_patch(path, {"colour": "red"}).status_code == 422
    bad_zone = admin.client_patch(path, {"time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and bad_zone.json()["detail"]
    taken = admin.client_patch(path, {"name": "Other"})
    assert taken.status_code == 409 and "Other" in taken.json()["detail"]
    viewer = api_client(token_for(carol, "read,write"))
    assert viewer.client_patch(path, {"description": "x"}).status_code == 403
    assert admin.client_patch("/schedules/99999", {"description": "x"}).status_code == 404
    assert Schedule.objects.get(pk=primary.pk).name == "Primary"


def test_a_policy_patch_keeps_its_steps(admin, primary):
    policy = editing.save_policy(
        {"name": "Default", "steps": [{"action": "schedule", "schedule": "Primary",
                                        "wait_minutes": 10}]}
    )  # fmt: skip
    changed = admin.client_patch(f"/escalation-policies/{policy.pk}", {"repeat": 2})
    assert changed.status_code == 200, changed.content
    assert changed.json()["repeat"] == 2
    assert changed.json()["steps"] == [
        {"action": "schedule", "schedule": "Primary", "wait_minutes": 10}
    ]
    steps = admin.client_patch(
        f"/escalation-policies/{policy.pk}", {"steps": [{"action": "person", "person": "ann"}]}
    )
    assert steps.status_code == 200, steps.content
    assert steps.json()["steps"] == [{"action": "person", "person": "ann", "wait_minutes": 5}]
    assert steps.json()["repeat"] == 2
    for body in ({"repeat": None}, {"repeat": 99}, {"steps": [{"action": "fly"}]}):
        assert admin.client_patch(f"/escalation-policies/{policy.pk}", body).status_code == 422
    assert EscalationPolicy.objects.get(pk=policy.pk).repeat == 2
