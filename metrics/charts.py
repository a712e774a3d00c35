"""Server-rendered SVG line charts: no JavaScript library, readable axes, units."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from opsconsole.units import humanize_value

# Drawn about 300-600 px wide: a small view box keeps the 11 px axis labels readable.
WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 62, 20, 8, 22


@dataclass
class Chart:
    title: str
    unit: str
    # One polyline (and band) per run of points: a gap in the data is a gap in the line,
    # not a straight stroke across the hours nothing was collected.
    lines: list[str]
    bands: list[str]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str, str]]
    last: str
    empty: bool
    last_point: tuple[float, float] | None = None
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    bottom_edge: int = HEIGHT - BOTTOM
    top: int = TOP


def build(
    title: str, unit: str, points, start: datetime, end: datetime, *, fixed_max=None
) -> Chart:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    span = max((end - start).total_seconds(), 1)
    values = [p.value for p in points]
    highs = [p.max for p in points]
    top_value = fixed_max if fixed_max is not None else max(highs or [1.0])
    if top_value <= 0:
        top_value = 1.0
    if fixed_max is None:
        top_value *= 1.1

    def x(at: datetime) -> float:
        return LEFT + (at - start).total_seconds() / span * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - min(max(value, 0) / top_value, 1.0) * plot_h

    lines, bands = [], []
    for run in _runs(points):
        lines.append(" ".join(f"{x(p.time):.1f},{y(p.value):.1f}" for p in run))
        # Min-max band behind the line when points aggregate several samples.
        if any(p.count > 1 for p in run):
            upper = [f"{x(p.time):.1f},{y(p.max):.1f}" for p in run]
            lower = [f"{x(p.time):.1f},{y(p.min):.1f}" for p in reversed(run)]
            bands.append(" ".join(upper + lower))
    y_ticks = [(y(top_value * f), humanize_value(top_value * f, unit)) for f in (0, 0.5, 1)]
    local = timezone.localtime
    fmt = "%H:%M" if span <= 86400 * 2 else "%b %d"
    x_ticks = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        at = datetime.fromtimestamp(start.timestamp() + span * fraction, tz=start.tzinfo)
        # The end labels align inwards so they are never cut off at the edges.
        anchor = {0.0: "start", 1.0: "end"}.get(fraction, "middle")
        x_ticks.append((LEFT + fraction * plot_w, local(at).strftime(fmt), anchor))
    return Chart(
        title=title,
        unit=unit,
        lines=lines,
        bands=bands,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        last=humanize_value(values[-1], unit) if values else "no data",
        empty=not points,
        # The newest point is marked, so a series that began moments ago still shows.
        last_point=(round(x(points[-1].time), 1), round(y(points[-1].value), 1))
        if points
        else None,
    )


def _runs(points) -> list[list]:
    """The points split wherever the gap to the next is over three usual steps."""
    if len(points) < 3:
        return [list(points)] if points else []
    gaps = sorted((b.time - a.time).total_seconds() for a, b in itertools.pairwise(points))
    limit = 3 * gaps[len(gaps) // 2]
    runs, current = [], [points[0]]
    for previous, point in itertools.pairwise(points):
        if (point.time - previous.time).total_seconds() > limit:
            runs.append(current)
            current = []
        current.append(point)
    runs.append(current)
    return runs


SPARK_WIDTH, SPARK_HEIGHT = 72, 18


def sparkline(values: list[float], *, top: float = 100.0) -> str:
    """SVG polyline points for a small trend drawn in a SPARK_WIDTH x SPARK_HEIGHT box,
    on a fixed scale (percentages: 0 to ``top``) so rows compare at a glance."""
    if not values:
        return ""
    if len(values) == 1:
        values = [values[0], values[0]]
    step = SPARK_WIDTH / (len(values) - 1)
    inner = SPARK_HEIGHT - 2

    def y(value: float) -> float:
        return 1 + inner - min(max(value, 0.0) / top, 1.0) * inner

    return " ".join(f"{i * step:.1f},{y(value):.1f}" for i, value in enumerate(values))
