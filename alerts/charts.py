"""Server-rendered SVG for the patterns page: no chart library, nothing to load."""

from __future__ import annotations

WIDTH = 720
HEIGHT = 200
LEFT = 36
BOTTOM = 28
TOP = 12


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return value


def hourly_chart(hourly: list[int]) -> dict:
    """24 bars, one per hour of the day (UTC), with a y axis in alerts."""
    top = _nice_max(max(hourly or [0]) or 1)
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT - 8) / 24
    bars = []
    for hour, count in enumerate(hourly):
        h = plot_h * count / top
        bars.append(
            {
                "hour": hour,
                "count": count,
                "x": round(LEFT + hour * slot + slot * 0.15, 1),
                "y": round(TOP + plot_h - h, 1),
                "width": round(slot * 0.7, 1),
                "height": round(h, 1),
                "label_x": round(LEFT + hour * slot + slot / 2, 1),
                # The phone's list draws the same bars sideways, as a share of the axis.
                "percent": round(100 * count / top),
            }
        )
    ticks = [
        {"y": round(TOP + plot_h - plot_h * i / 4, 1), "label": top * i // 4} for i in range(5)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - 8,
        "axis_y": HEIGHT - BOTTOM + 16,
        "bars": bars,
        "ticks": ticks,
        "empty": not any(hourly),
    }


def shares(counts: dict[str, int], *, keep_order: bool = False) -> list[dict]:
    """Rows for a horizontal bar list: name, count, and percent of the total; the
    largest first unless the order given means something (severities)."""
    total = sum(counts.values())
    rows = list(counts.items())
    if not keep_order:
        rows.sort(key=lambda item: -item[1])
    return [
        {
            "name": name,
            "count": count,
            "percent": round(100 * count / total, 1) if total else 0.0,
        }
        for name, count in rows
    ]
