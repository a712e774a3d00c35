"""Small server-rendered SVG: the response-time sparkline and the status badge."""

from __future__ import annotations

from dataclasses import dataclass

from healthchecks.constants import STATE_COLOURS, State

SPARK_WIDTH = 160
SPARK_HEIGHT = 32


@dataclass
class Sparkline:
    points: str  # "x,y x,y ..." for an SVG polyline
    failures: list[float]  # x positions of failed checks
    peak_ms: float | None
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def sparkline(results: list[tuple[float | None, bool]]) -> Sparkline:
    """``results``: (response ms or None, failed) oldest first."""
    times = [ms for ms, _ in results if ms is not None]
    peak = max(times, default=None)
    count = len(results)
    step = SPARK_WIDTH / max(count - 1, 1)
    points = []
    failures = []
    for i, (ms, failed) in enumerate(results):
        x = round(i * step, 1)
        if failed:
            # A failure is a bar 3 px wide; the last one must stay inside the box.
            failures.append(min(x, SPARK_WIDTH - 3))
        if ms is not None and peak:
            y = round(SPARK_HEIGHT - 2 - (ms / peak) * (SPARK_HEIGHT - 4), 1)
            points.append(f"{x},{y}")
    return Sparkline(points=" ".join(points), failures=failures, peak_ms=peak)


def badge(label: str, state: str) -> dict:
    """Sizes for templates/healthchecks/badge.svg (about 6.5 px per character)."""
    left = 10 + round(len(label) * 6.5)
    right = 10 + round(len(state) * 6.5)
    return {
        "label": label,
        "state": state,
        "colour": STATE_COLOURS.get(State(state), STATE_COLOURS[State.UNKNOWN]),
        "left": left,
        "right": right,
        "width": left + right,
        "label_x": left / 2,
        "state_x": left + right / 2,
    }
