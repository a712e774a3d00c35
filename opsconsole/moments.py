"""A moment in words for text built in Python (admin columns, help lines): the same
format and zone as every template's ``|date:"DATETIME_FORMAT"`` (opsconsole/formats)."""

from __future__ import annotations

from datetime import datetime

from django.utils import formats, timezone


def moment(at: datetime | None, empty: str = "—") -> str:
    """'2026-03-14 09:26:53 UTC' in the console's zone, or ``empty``."""
    if at is None:
        return empty
    if timezone.is_aware(at):
        at = timezone.localtime(at)
    return formats.date_format(at, "DATETIME_FORMAT")
