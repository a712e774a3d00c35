"""django-q2 tasks of the notifications app. Messages themselves never go through the
task queue (the delivery lane sends them); only this check of the lane does, on the
monitoring lane, so a lane that stopped is noticed by something that still runs."""

from __future__ import annotations

from notifications import watch


def watch_lane() -> float:
    return watch.watch()
