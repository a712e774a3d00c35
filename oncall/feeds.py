"""iCalendar feeds: a schedule's shifts, and one person's shifts across schedules, at
secret addresses that calendar apps poll.

Events carry their times in the schedule's zone (``TZID``) with the zone's
``VTIMEZONE`` definition, so a 09:00 handoff shows at 09:00 on both sides of a DST
change. Each event's UID is stable for the same shift, so a calendar app updates it in
place when the schedule changes rather than adding a copy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar
from django.conf import settings
from django.contrib.auth import get_user_model

from oncall import schedules

PAST = timedelta(days=7)
AHEAD = timedelta(days=56)


def _calendar(name: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//OpsConsole//On call//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    # Calendar apps poll at their own pace; this asks for hourly.
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    return cal


def _event(view, seg, who: str, now: datetime) -> icalendar.Event:
    event = icalendar.Event()
    host = settings.PUBLIC_URL.split("://", 1)[-1].split("/", 1)[0]
    event.add("uid", f"oncall-{view.id}-{seg.user_id}-{int(seg.start.timestamp())}@{host}")
    event.add("dtstamp", now)
    event.add("dtstart", seg.start.astimezone(view.tz))
    event.add("dtend", seg.end.astimezone(view.tz))
    event.add("summary", f"On call: {who} ({view.name})")
    event.add("description", f"{view.name}, {seg.source}. {settings.PUBLIC_URL}/oncall/")
    event.add("transp", "TRANSPARENT")
    return event


def _names(ids) -> dict[int, str]:
    return {
        u.pk: u.get_full_name() or u.get_username()
        for u in get_user_model().objects.filter(pk__in=set(ids))
    }


def _segments(view, now: datetime):
    return [s for s in schedules.timeline(view, now - PAST, now + AHEAD) if s.user_id is not None]


def schedule_feed(schedule, now: datetime) -> bytes:
    view = schedules.load_one(schedule.pk, since=now - PAST)
    segments = _segments(view, now)
    names = _names(s.user_id for s in segments)
    cal = _calendar(f"On call: {schedule.name}")
    for seg in segments:
        cal.add_component(_event(view, seg, names.get(seg.user_id, "?"), now))
    cal.add_missing_timezones()
    return cal.to_ical()


def person_feed(user, now: datetime) -> bytes:
    cal = _calendar(f"On call: {user.get_full_name() or user.get_username()}")
    who = user.get_full_name() or user.get_username()
    for view in schedules.load(since=now - PAST).values():
        for seg in _segments(view, now):
            if seg.user_id == user.pk:
                cal.add_component(_event(view, seg, who, now))
    cal.add_missing_timezones()
    return cal.to_ical()
