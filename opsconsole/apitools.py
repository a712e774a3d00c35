"""Small helpers every app's API router shares: lookups that 404 with a reason, and
admin forms reused as the API's validation with their errors as one 422 line."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.forms import BaseForm
from ninja.errors import HttpError

M = TypeVar("M", bound=Model)


def one_or_404(rows: type[M] | QuerySet[M], what: str, **lookup) -> M:
    """The row matching ``lookup``, or a 404 saying ``no <what>``."""
    queryset = rows.objects.all() if isinstance(rows, type) else rows
    found = queryset.filter(**lookup).first()
    if found is None:
        raise HttpError(404, f"no {what}")
    return found


def as_form_data(data: dict) -> dict:
    """JSON values as a browser would post them to an admin form (JSON fields as text,
    checkboxes "on" or absent, None as empty), so the API and config files are validated
    by the very forms the admin uses."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict | list):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            if value:
                out[key] = "on"
        elif value is None:
            out[key] = ""
        else:
            out[key] = value
    return out


def valid_or_422(form: BaseForm) -> BaseForm:
    """The form, if valid; else a 422 with every field's errors on one line."""
    if not form.is_valid():
        raise HttpError(
            422, "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
        )
    return form
