"""Numbers on pages carry units; configured numbers (thresholds) keep every digit."""

from __future__ import annotations

import pytest

from opsconsole.units import exact_value, humanize_value


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.05, "per_second", "0.05/s"),
        (99.95, "percent", "99.95 %"),
        (80, "percent", "80 %"),
        (5000, "ms", "5000 ms"),
        (2, "count", "2"),
        (3, "samples", "3 samples"),
        (1.5 * 1024**3, "bytes", "1.5 GiB"),
        (1_500_000_000, "bytes", "1.39698 GiB"),
        (10 * 1024**2, "bytes_per_second", "10 MiB/s"),
        (2.5, "percent per hour", "2.5 %/h"),
        (12, "orders/min", "12 orders/min"),
        (None, "percent", "—"),
    ],
)
def test_a_threshold_keeps_its_digits_and_its_unit(value, unit, shown):
    assert exact_value(value, unit) == shown


def test_a_reading_is_rounded_for_the_eye():
    # The same numbers as readings: rounded, which a threshold must not be.
    assert humanize_value(0.05, "per_second") == "0.1/s"
    assert humanize_value(99.95, "percent") == "100.0 %"
