"""iCalendar feeds, read back with the icalendar library: a schedule's and a person's
shifts at secret addresses, handing over at 09:00 local on both sides of a DST change."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.contrib.auth.models import User

from oncall import editing, feeds
from oncall.models import PersonalFeed

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def schedule(db):
    for name in ("ann", "ben"):
        User.objects.create_user(name)
    return editing.save_schedule(
        {
            "name": "Primary",
            "time_zone": "Europe/Berlin",
            "rotations": [
                {
                    "name": "daily",
                    "length": "daily",
                    "start_date": "2026-03-20",
                    "participants": ["ann", "ben"],
                }
            ],
        }
    )


def _events(body: bytes):
    calendar = icalendar.Calendar.from_ical(body)
    return calendar, sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))


def test_a_schedule_feed_hands_over_at_nine_local_across_dst(schedule):
    # Berlin's clocks go forward on 2026-03-29.
    now = datetime(2026, 3, 27, 12, tzinfo=BERLIN)
    calendar, events = _events(feeds.schedule_feed(schedule, now))
    assert str(calendar["x-wr-calname"]) == "On call: Primary"
    assert calendar.walk("VTIMEZONE")[0]["tzid"] == "Europe/Berlin"
    around = [
        e
        for e in events
        if datetime(2026, 3, 27, tzinfo=BERLIN)
        <= e.decoded("dtstart")
        < datetime(2026, 4, 1, tzinfo=BERLIN)
    ]
    starts = [e.decoded("dtstart").astimezone(BERLIN) for e in around]
    assert [s.hour for s in starts] == [9] * len(starts) and len(starts) == 5
    utc = ZoneInfo("UTC")
    lengths = {
        e.decoded("dtstart").date(): e.decoded("dtend").astimezone(utc)
        - e.decoded("dtstart").astimezone(utc)
        for e in around
    }
    # The shift that holds the change is an hour short in elapsed time.
    assert lengths[datetime(2026, 3, 28).date()] == timedelta(hours=23)
    assert lengths[datetime(2026, 3, 30).date()] == timedelta(hours=24)
    summaries = [str(e["summary"]) for e in around[:2]]
    assert sorted(summaries) == ["On call: ann (Primary)", "On call: ben (Primary)"]
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_a_persons_feed_has_only_their_shifts(schedule):
    ann = User.objects.get(username="ann")
    now = datetime(2026, 3, 27, 12, tzinfo=BERLIN)
    _calendar, events = _events(feeds.person_feed(ann, now))
    assert events and all("ann" in str(e["summary"]) for e in events)
    gaps = [b.decoded("dtstart") - a.decoded("dtend") for a, b in itertools.pairwise(events)]
    assert all(gap > timedelta(0) for gap in gaps)  # every other day


def test_feeds_are_served_at_their_secret_addresses_only(client, schedule):
    answer = client.get(f"/oncall/feeds/schedule/{schedule.feed_token}.ics")  # no session
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/calendar")
    icalendar.Calendar.from_ical(answer.content)
    assert client.get("/oncall/feeds/schedule/guess.ics").status_code == 404
    feed = PersonalFeed.objects.create(user=User.objects.get(username="ben"))
    mine = client.get(f"/oncall/feeds/person/{feed.token}.ics")
    assert mine.status_code == 200 and b"BEGIN:VCALENDAR" in mine.content
