"""Health-check readings for service rules, from the app that runs the checks.

The evaluator and the preview judge service rules over check results, but the alerts
app does not import the app that stores them (it imports alerts to raise its own
alerts). That app registers a source here from its ``ready()``; without one a service
rule reads nothing, as if no endpoint existed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Endpoint:
    """A checked service, as a service rule reads it."""

    pk: int
    name: str
    retries: int  # failed checks tolerated before the endpoint counts as down


# One check: (endpoint pk, when, failed, response time in ms or None, error text).
CheckRow = tuple[int, datetime, bool, float | None, str]


class CheckSource(Protocol):
    def endpoints(self, names: Collection[str] | None) -> list[Endpoint]:
        """The enabled endpoints of these names (every enabled one for None)."""
        ...

    def checks(
        self, endpoint_ids: list[int], since: datetime, until: datetime | None
    ) -> Iterable[CheckRow]:
        """Their checks from ``since`` (to ``until``), oldest first."""
        ...


_source: CheckSource | None = None


def register_check_source(source: CheckSource) -> None:
    global _source
    _source = source


def endpoints(names: Collection[str] | None = None) -> dict[int, Endpoint]:
    """The enabled endpoints by pk: those named, or every one for None."""
    if _source is None:
        return {}
    return {e.pk: e for e in _source.endpoints(names)}


def checks(
    endpoint_ids: list[int], since: datetime, until: datetime | None = None
) -> Iterable[CheckRow]:
    if _source is None or not endpoint_ids:
        return ()
    return _source.checks(endpoint_ids, since, until)
