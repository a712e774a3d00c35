"""Who is on call: rotations in turn at the handoff time, in the schedule's zone across
DST changes, the higher layer winning where it has someone, overrides on top."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from oncall import editing, schedules
from oncall.models import Override

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


@pytest.fixture
def team(db):
    return [User.objects.create_user(name) for name in ("ann", "ben", "cem")]


def _schedule(rotations, zone="Europe/Berlin", name="Primary"):
    return editing.save_schedule({"name": name, "time_zone": zone, "rotations": rotations})


def _view(schedule) -> schedules.ScheduleView:
    view = schedules.load_one(schedule.pk)
    assert view is not None
    return view


@dataclass
class _Held:
    """A shift on call, both of its ends inside the window asked about."""

    user_id: int
    start: datetime
    end: datetime


def _shift(view: schedules.ScheduleView, at: datetime) -> _Held:
    shift = schedules.on_call(view, at)
    assert shift is not None and shift.start is not None and shift.end is not None, shift
    return _Held(shift.user_id, shift.start, shift.end)


def _who(schedule, at):
    shift = schedules.on_call(_view(schedule), at)
    return User.objects.get(pk=shift.user_id).username if shift else None


def test_a_weekly_rotation_hands_over_at_its_time_in_turn(team):
    s = _schedule(
        [{"name": "weekly", "start_date": "2026-01-05", "participants": ["ann", "ben", "cem"]}]
    )
    monday = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN)
    assert _who(s, monday - timedelta(minutes=1)) is None  # before the start
    assert _who(s, monday) == "ann"
    assert _who(s, monday + timedelta(days=7) - timedelta(seconds=1)) == "ann"
    assert _who(s, monday + timedelta(days=7)) == "ben"
    assert _who(s, monday + timedelta(days=14)) == "cem"
    assert _who(s, monday + timedelta(days=21)) == "ann"


def test_a_daily_handoff_stays_at_nine_on_the_wall_clock_across_dst(team):
    s = _schedule(
        [
            {
                "name": "daily",
                "length": "daily",
                "start_date": "2026-03-27",
                "participants": ["ann", "ben"],
            }
        ]
    )
    view = _view(s)
    # Berlin moves its clocks forward on 2026-03-29 at 02:00.
    before = _shift(view, datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN))
    across = _shift(view, datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN))
    assert before.start.astimezone(BERLIN).hour == 9 and across.start.astimezone(BERLIN).hour == 9
    assert across.end - across.start == timedelta(hours=24)
    # The shift that holds the change is an hour short in elapsed time.
    assert before.end - before.start == timedelta(hours=23)
    assert before.user_id != across.user_id


def test_n_hour_shifts_count_elapsed_hours(team):
    s = _schedule(
        [
            {
                "name": "12h",
                "length": "hours",
                "shift_hours": 12,
                "handoff_time": "08:00",
                "start_date": "2026-03-28",
                "participants": ["ann", "ben"],
            }
        ]
    )
    view = _view(s)
    start = datetime(2026, 3, 28, 8, 0, tzinfo=BERLIN).astimezone(UTC)
    shifts = [_shift(view, start + timedelta(hours=12 * i, minutes=1)) for i in range(4)]
    assert [sh.end - sh.start for sh in shifts] == [timedelta(hours=12)] * 4
    # After the DST change the wall-clock handoff moves an hour: elapsed time rules.
    assert shifts[2].start.astimezone(BERLIN).hour == 9


def test_the_higher_layer_wins_where_it_has_someone(team):
    s = _schedule(
        [
            {"name": "base", "layer": 1, "start_date": "2026-01-05", "participants": ["ann"]},
            {"name": "holiday", "layer": 2, "start_date": "2026-02-02", "participants": ["cem"]},
        ]
    )
    assert _who(s, datetime(2026, 1, 20, tzinfo=UTC)) == "ann"  # layer 2 not started
    assert _who(s, datetime(2026, 2, 10, tzinfo=UTC)) == "cem"


def test_an_override_covers_its_window_for_the_person_it_replaces(team):
    ann, ben, cem = team
    s = _schedule([{"name": "weekly", "start_date": "2026-01-05", "participants": ["ann", "ben"]}])
    noon = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
    Override.objects.create(
        schedule=s, user=cem, replaces=ann, start=noon, end=noon + timedelta(hours=4)
    )
    # Replacing ben does nothing while ann is on call.
    Override.objects.create(
        schedule=s, user=ben, replaces=ben, start=noon, end=noon + timedelta(hours=8)
    )
    assert _who(s, noon + timedelta(hours=1)) == "cem"
    assert _who(s, noon + timedelta(hours=5)) == "ann"


def test_now_and_next(team):
    s = _schedule([{"name": "weekly", "start_date": "2026-01-05", "participants": ["ann", "ben"]}])
    found = schedules.now_and_next(_view(s), datetime(2026, 1, 7, tzinfo=UTC))
    assert found["until"] == datetime(2026, 1, 12, 9, 0, tzinfo=BERLIN)
    assert User.objects.get(pk=found["next"].user_id).username == "ben"


def test_a_timeline_shows_gaps(team):
    s = _schedule(
        [{"name": "weekly", "start_date": "2026-01-05", "participants": ["ann"]}], zone="UTC"
    )
    segments = schedules.timeline(
        _view(s),
        datetime(2026, 1, 4, tzinfo=UTC),
        datetime(2026, 1, 6, tzinfo=UTC),
    )
    assert [seg.user_id is None for seg in segments] == [True, False]
    assert segments[1].start == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_the_api_answers_who_is_on_call_at_an_instant(client, carol, team):
    s = _schedule([{"name": "weekly", "start_date": "2026-01-05", "participants": ["ann", "ben"]}])
    client.force_login(carol)
    answer = client.get(f"/api/v1/schedules/{s.pk}/oncall", {"at": "2026-01-13T12:00:00Z"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["current"]["person"]["username"] == "ben"
    assert body["current"]["person"]["reachable"] is False
    assert body["next"]["person"]["username"] == "ann"
    assert body["next"]["start"].startswith("2026-01-19T08:00:00")
    assert client.get("/api/v1/schedules").json()[0]["schedule"] == "Primary"
    naive = client.get(f"/api/v1/schedules/{s.pk}/oncall", {"at": "2026-01-13T12:00:00"})
    assert naive.json()["at"].startswith("2026-01-13T12:00:00")  # read as UTC


def test_admins_create_schedules_and_viewers_do_not(client, alice, carol, team):
    body: dict[str, Any] = {
        "name": "DB",
        "time_zone": "Europe/Berlin",
        "rotations": [{"name": "r", "start_date": "2026-01-05", "participants": ["ann"]}],
    }
    client.force_login(carol)
    assert (
        client.post("/api/v1/schedules", body, content_type="application/json").status_code == 403
    )
    client.force_login(alice)
    made = client.post("/api/v1/schedules", body, content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["rotations"][0]["participants"] == ["ann"]
    body["rotations"][0]["participants"] = ["nobody"]
    body["name"] = "Other"
    refused = client.post("/api/v1/schedules", body, content_type="application/json")
    assert refused.status_code == 422 and "nobody" in refused.json()["detail"]


def test_responders_override_for_themselves_only(client, bob, alice, team):
    s = _schedule([{"name": "r", "start_date": "2026-01-05", "participants": ["ann"]}])
    window = {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z"}
    client.force_login(bob)
    mine = client.post(
        f"/api/v1/schedules/{s.pk}/overrides", window, content_type="application/json"
    )
    assert mine.status_code == 201 and mine.json()["person"]["username"] == "bob"
    theirs = client.post(
        f"/api/v1/schedules/{s.pk}/overrides",
        {**window, "person_id": team[0].pk},
        content_type="application/json",
    )
    assert theirs.status_code == 403
    client.force_login(alice)  # a manager sets one for someone else
    managed = client.post(
        f"/api/v1/schedules/{s.pk}/overrides",
        {**window, "person_id": team[1].pk, "replaces_id": team[0].pk},
        content_type="application/json",
    )
    assert managed.status_code == 201
    at = "2026-02-01T12:00:00Z"
    now = client.get(f"/api/v1/schedules/{s.pk}/oncall", {"at": at}).json()
    assert now["current"]["person"]["username"] == "ben"  # the latest override wins
    assert now["current"]["source"] == "override"


def test_a_schedule_replaced_keeps_its_overrides(team):
    s = _schedule([{"name": "r", "start_date": date(2026, 1, 5), "participants": ["ann"]}])
    Override.objects.create(
        schedule=s,
        user=team[1],
        start=datetime(2026, 1, 6, tzinfo=UTC),
        end=datetime(2026, 1, 7, tzinfo=UTC),
    )
    editing.save_schedule(
        {"name": "Primary", "rotations": [{"name": "r2", "start_date": "2026-01-05"}]}, s
    )
    assert s.overrides.count() == 1 and [r.name for r in s.rotations.all()] == ["r2"]


def test_a_handoff_time_with_an_offset_is_refused_not_a_500(client, alice, team):
    # Found by the fuzzer: "09:00:00+01:00" reached the database (SQLite refuses aware
    # times); the handoff is on the schedule's own clock, which time_zone names.
    body: dict[str, Any] = {
        "name": "Offset",
        "time_zone": "Europe/Berlin",
        "rotations": [
            {
                "name": "r",
                "start_date": "2026-01-05",
                "handoff_time": "09:00:00+01:00",
                "participants": ["ann"],
            }
        ],
    }
    client.force_login(alice)
    refused = client.post("/api/v1/schedules", body, content_type="application/json")
    assert refused.status_code == 422, refused.content
    assert "without an offset" in refused.content.decode()
    body["rotations"][0]["handoff_time"] = "09:00"
    assert (
        client.post("/api/v1/schedules", body, content_type="application/json").status_code == 201
    )
    again = client.post("/api/v1/schedules", body, content_type="application/json")
    assert again.status_code == 409  # documented now
