"""Who is on call, when: rotations' shifts, layers and overrides, computed in memory.

``load(ids)`` reads schedules with their rotations, members and overrides in four
queries; ``on_call(view, at)`` then answers for any instant without touching the
database, so "who is on call now" for every schedule, a calendar and the escalation
tick read the same few rows however many instants they ask about.

A daily or weekly shift starts at the handoff time on the schedule's wall clock, so
it stays at 09:00 across a DST change (the shift is 23 or 25 hours long that day);
an N-hour shift is N hours of elapsed time.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from oncall.models import Override, Rotation, RotationMember, Schedule, ShiftLength

# How far ahead "next on call" and calendars look for a change.
HORIZON = timedelta(days=90)
MAX_CHANGES = 5000


@dataclass
class RotationView:
    id: int
    name: str
    layer: int
    length: str
    shift_hours: int
    handoff: time
    start_date: date
    tz: zoneinfo.ZoneInfo
    members: list[int]
    anchor: datetime = field(init=False)

    def __post_init__(self):
        # Every instant here is in UTC: Python subtracts two datetimes of the same zone
        # by their wall clocks, which is wrong across a DST change.
        self.anchor = datetime.combine(self.start_date, self.handoff, tzinfo=self.tz).astimezone(
            UTC
        )

    def shift(self, at: datetime) -> tuple[int, datetime, datetime] | None:
        """(index of the shift, its start, its end) at ``at``; None before the start."""
        at = at.astimezone(UTC)
        if at < self.anchor:
            return None
        if self.length == ShiftLength.HOURS:
            step = timedelta(hours=self.shift_hours)
            index = (at - self.anchor) // step
            start = self.anchor + index * step
            return index, start, start + step
        # Wall-clock days: count in naive local time, then back to UTC.
        days = timedelta(days=7 if self.length == ShiftLength.WEEKLY else 1)
        naive_anchor = datetime.combine(self.start_date, self.handoff)
        local = at.astimezone(self.tz).replace(tzinfo=None)
        index = (local - naive_anchor) // days

        def instant(i: int) -> datetime:
            return (naive_anchor + i * days).replace(tzinfo=self.tz).astimezone(UTC)

        start, end = instant(index), instant(index + 1)
        if start > at:  # the wall clock went back over the handoff
            index -= 1
            start, end = instant(index), start
        return index, start, end

    def person(self, at: datetime) -> tuple[int, datetime, datetime] | None:
        """(user id, shift start, shift end) at ``at``."""
        if not self.members:
            return None
        found = self.shift(at)
        if found is None:
            return None
        index, start, end = found
        return self.members[index % len(self.members)], start, end

    def next_boundary(self, at: datetime) -> datetime | None:
        if not self.members:
            return None
        if at < self.anchor:
            return self.anchor
        found = self.shift(at)
        return found[2] if found else None


@dataclass
class OverrideView:
    id: int
    user: int
    replaces: int | None
    start: datetime
    end: datetime


@dataclass
class ScheduleView:
    id: int
    name: str
    tz: zoneinfo.ZoneInfo
    rotations: list[RotationView]  # highest layer first
    overrides: list[OverrideView]  # newest first: the latest override wins

    @property
    def empty(self) -> bool:
        return not any(rotation.members for rotation in self.rotations)


@dataclass(frozen=True)
class Shift:
    user_id: int
    start: datetime | None  # None: before the window asked about
    end: datetime | None
    source: str  # "rotation <name>" or "override"
    rotation_id: int | None = None
    override_id: int | None = None


def load(ids=None, *, since: datetime | None = None) -> dict[int, ScheduleView]:
    """Schedules (all, or these ids) as views; overrides that ended before ``since``
    are left out."""
    schedules = Schedule.objects.all() if ids is None else Schedule.objects.filter(pk__in=ids)
    views = {
        s.pk: ScheduleView(s.pk, s.name, _zone(s.time_zone), [], [])
        for s in schedules.only("id", "name", "time_zone")
    }
    if not views:
        return views
    members: dict[int, list[int]] = {}
    for rotation_id, user_id in (
        RotationMember.objects.filter(rotation__schedule__in=views)
        .order_by("rotation_id", "position", "id")
        .values_list("rotation_id", "user_id")
    ):
        members.setdefault(rotation_id, []).append(user_id)
    for r in Rotation.objects.filter(schedule__in=views).order_by("-layer", "id"):
        view = views[r.schedule_id]
        view.rotations.append(
            RotationView(
                r.pk,
                r.name,
                r.layer,
                r.length,
                r.shift_hours,
                _as_time(r.handoff_time),
                r.start_date,
                view.tz,
                members.get(r.pk, []),
            )
        )
    overrides = Override.objects.filter(schedule__in=views)
    if since is not None:
        overrides = overrides.filter(end__gt=since)
    for o in overrides.order_by("-created", "-id"):
        views[o.schedule_id].overrides.append(
            OverrideView(o.pk, o.user_id, o.replaces_id, o.start, o.end)
        )
    return views


def load_one(schedule_id: int, *, since: datetime | None = None) -> ScheduleView | None:
    return load([schedule_id], since=since).get(schedule_id)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _as_time(value) -> time:
    if isinstance(value, str):
        return time.fromisoformat(value)
    return value


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def on_call(view: ScheduleView, at: datetime) -> Shift | None:
    """Who is on call at ``at``: an override covering the instant (for the person on
    call then, or for anyone), else the highest layer that has someone."""
    at = _aware(at)
    scheduled = None
    for rotation in view.rotations:
        found = rotation.person(at)
        if found is not None:
            scheduled = Shift(
                found[0], found[1], found[2], f"rotation {rotation.name}", rotation.id
            )
            break
    for o in view.overrides:
        if o.start <= at < o.end and (
            o.replaces is None or (scheduled is not None and scheduled.user_id == o.replaces)
        ):
            return Shift(o.user, o.start, o.end, "override", override_id=o.id)
    return scheduled


def _boundaries_after(view: ScheduleView, at: datetime) -> datetime | None:
    candidates = [b for r in view.rotations if (b := r.next_boundary(at)) is not None]
    for o in view.overrides:
        if o.start > at:
            candidates.append(o.start)
        elif o.end > at:
            candidates.append(o.end)
    return min(candidates) if candidates else None


def next_change(view: ScheduleView, at: datetime, until: datetime | None = None):
    """(when, Shift or None) of the first moment after ``at`` when someone else is on
    call; None when nothing changes before ``until`` (default: 90 days on)."""
    at = _aware(at)
    until = until or at + HORIZON
    current = on_call(view, at)
    moment = at
    for _ in range(MAX_CHANGES):
        after = _boundaries_after(view, moment)
        if after is None or after > until:
            return None
        moment = after
        shift = on_call(view, moment)
        if (shift and shift.user_id) != (current and current.user_id):
            return moment, shift
    return None


@dataclass(frozen=True)
class Segment:
    user_id: int | None
    start: datetime
    end: datetime
    source: str


def timeline(view: ScheduleView, start: datetime, end: datetime) -> list[Segment]:
    """Who is on call from ``start`` to ``end``, as consecutive segments (a segment
    with nobody is kept, so gaps in coverage show)."""
    start, end = _aware(start), _aware(end)
    segments: list[Segment] = []
    moment = start
    shift = on_call(view, moment)
    for _ in range(MAX_CHANGES):
        change = next_change(view, moment, end)
        stop = change[0] if change else end
        segments.append(
            Segment(shift.user_id if shift else None, moment, stop, shift.source if shift else "")
        )
        if change is None:
            break
        moment, shift = change
    return segments


def now_and_next(view: ScheduleView, at: datetime) -> dict:
    """What the API and the pages show: who is on call at ``at`` until when, and who
    comes next from when."""
    at = _aware(at)
    current = on_call(view, at)
    change = next_change(view, at)
    return {
        "current": current,
        "until": change[0] if change else None,
        "next": change[1] if change else None,
        "next_from": change[0] if change else None,
    }
