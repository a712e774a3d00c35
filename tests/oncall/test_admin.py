"""The admin: schedules with their rotations and overrides, contact methods with a
test-message action, and a warning at save when a page would reach nobody."""

from __future__ import annotations

import pytest

from oncall import editing, lint
from oncall.models import ContactMethod

pytestmark = pytest.mark.django_db


def test_the_admin_lists_and_opens_what_on_call_keeps(admin_client, bob):
    schedule = editing.save_schedule(
        {
            "name": "Primary",
            "rotations": [{"name": "r", "start_date": "2026-01-05", "participants": ["bob"]}],
        }
    )
    for path in (
        "/admin/oncall/schedule/",
        f"/admin/oncall/schedule/{schedule.pk}/change/",
        "/admin/oncall/schedule/add/",
        "/admin/oncall/rotation/",
        "/admin/oncall/override/add/",
        "/admin/oncall/contactmethod/add/",
        "/admin/oncall/notificationrule/add/",
    ):
        assert admin_client.get(path).status_code == 200, path
    listing = admin_client.get("/admin/oncall/schedule/").content.decode()
    assert "nobody would reach bob" in listing


def test_the_admin_refuses_an_address_of_the_wrong_shape(admin_client, bob):
    answer = admin_client.post(
        "/admin/oncall/contactmethod/add/", {"user": bob.pk, "kind": "phone", "address": "12"}
    )
    assert answer.status_code == 200 and "E.164" in answer.content.decode()
    assert not ContactMethod.objects.exists()


def test_an_empty_schedule_is_flagged(db):
    schedule = editing.save_schedule({"name": "Empty"})
    assert lint.schedule_problems(schedule) == ["schedule 'Empty' has nobody in any rotation"]
