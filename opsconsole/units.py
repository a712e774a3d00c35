"""Every number on a page carries its unit: 12.5 %, 3.2 GiB, 640 KiB/s, 4 ms.

Python code (charts, alert messages, the admin's previews) formats here; the ``units``
template tag library wraps these for templates.
"""

from __future__ import annotations

from typing import Any

_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def _bytes(value: float) -> str:
    index = 0
    while abs(value) >= 1024 and index < len(_BINARY) - 1:
        value /= 1024
        index += 1
    return f"{value:.0f} {_BINARY[index]}" if index == 0 else f"{value:.1f} {_BINARY[index]}"


def humanize_value(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if unit == "percent":
        return f"{number:.1f} %"
    if unit == "bytes":
        return _bytes(number)
    if unit == "bytes_per_second":
        return f"{_bytes(number)}/s"
    if unit == "per_second":
        return f"{number:.1f}/s"
    if unit == "ms":
        return f"{number:.1f} ms" if number < 1000 else f"{number / 1000:.2f} s"
    if unit == "seconds":
        return f"{number:.1f} s"
    if unit == "load":
        return f"{number:.2f}"
    if unit == "count":
        return f"{number:.0f}"
    if unit.endswith("per hour"):
        # A growth rate (trend rules): the base unit, per hour.
        return f"{humanize_value(number, unit.removesuffix('per hour').strip())}/h"
    # Units pushed with custom metrics ("orders/min", "samples") are written as given.
    return f"{number:g} {unit}" if unit else f"{number:g}"


def exact_value(value: Any, unit: str = "") -> str:
    """A configured number (a threshold) with its unit, every digit kept: 0.05/s, not
    0.1/s; 99.95 %, not 100.0 %. Bytes still take a binary prefix."""
    if value is None:
        return "—"
    number = float(value)
    if unit.endswith("per hour"):
        return f"{exact_value(number, unit.removesuffix('per hour').strip())}/h"
    if unit in ("bytes", "bytes_per_second"):
        index = 0
        while abs(number) >= 1024 and index < len(_BINARY) - 1:
            number /= 1024
            index += 1
        text = f"{number:g} {_BINARY[index]}"
        return f"{text}/s" if unit == "bytes_per_second" else text
    suffix = {
        "percent": " %",
        "ms": " ms",
        "seconds": " s",
        "per_second": "/s",
        "count": "",
        "load": "",
    }.get(unit, f" {unit}" if unit else "")
    return f"{number:g}{suffix}"
