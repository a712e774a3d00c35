"""Input no database can store is refused with its reason, once for every view.

PostgreSQL refuses a NUL character in any text (``?q=%00`` on a viewer's filter was a
500) and an integer past its column's type (2^31 for an integer column); SQLite refuses
integers past 2^63. Two layers, both generic:

- ``RefuseUnstorableInput`` (middleware): a NUL anywhere in the path, the query, a
  form's fields, cookies, headers or a JSON body, and a query value that is an integer
  past 64 bits, get a 400 saying which parameter, before any view runs.
- ``check_storable`` (a ``pre_save`` receiver for every model): a NUL in a text or
  JSON field, or an integer outside its column's PostgreSQL range (on SQLite too, so
  both databases refuse the same), raises ``ValidationError`` naming the field; the API
  answers it with a 422 and pages with a 400 (``StorageRefusal`` below).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import models
from django.http import HttpResponse, JsonResponse

NUL = "\x00"
_INTEGER = re.compile(r"[+-]?\d+")
INT64 = 2**63
# PostgreSQL's integer, the column of counts (a sum past it fails the UPDATE).
INT32_MAX = 2**31 - 1

# PostgreSQL's ranges, applied on every database: a value SQLite would take and
# PostgreSQL refuse would make the two behave differently.
_RANGES = {
    "SmallIntegerField": (-(2**15), 2**15 - 1),
    "PositiveSmallIntegerField": (0, 2**15 - 1),
    "IntegerField": (-(2**31), INT32_MAX),
    "PositiveIntegerField": (0, INT32_MAX),
    "BigIntegerField": (-INT64, INT64 - 1),
    "PositiveBigIntegerField": (0, INT64 - 1),
    "AutoField": (1, INT32_MAX),
    "BigAutoField": (1, INT64 - 1),
    "SmallAutoField": (1, 2**15 - 1),
}


def _refusal(request, status: int, reason: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": reason}, status=status)
    return HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")


def _nul_in_json(value, where: str = "") -> str | None:
    """The path of the first string (key or value) in ``value`` holding a NUL."""
    if isinstance(value, str):
        return where or "body" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if NUL in str(key):
                return path
            found = _nul_in_json(item, path)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in_json(item, f"{where}.{index}" if where else str(index))
            if found:
                return found
    return None


def request_problem(request) -> str | None:
    """Why this request's input cannot be stored, or None."""
    if NUL in request.path:
        return "the path contains a NUL character (\\x00), which cannot be stored"
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            return f"query parameter {key!r} contains a NUL character (\\x00)"
        for value in values:
            if _INTEGER.fullmatch(value.strip()) and abs(int(value)) >= INT64:
                return f"query parameter {key!r} is out of range (at most {INT64 - 1})"
    for key, value in [*request.COOKIES.items(), *_headers(request)]:
        if NUL in value:
            return f"{key!r} contains a NUL character (\\x00)"
    content_type = request.content_type or ""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, values in request.POST.lists():
                if NUL in key or any(NUL in value for value in values):
                    return f"field {key!r} contains a NUL character (\\x00)"
        elif "json" in content_type and b"\\u0000" in _body(request):
            # Only a body with the escape is parsed here (an ingest batch is not).
            try:
                where = _nul_in_json(json.loads(request.body))
            except ValueError:
                where = None  # the view says what is wrong with the JSON
            if where:
                return f"{where} contains a NUL character (\\u0000), which cannot be stored"
    return None


def _body(request) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        return b""  # the view refuses it with its own answer


def _headers(request) -> Iterator[tuple[str, str]]:
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            yield key[5:].replace("_", "-").title() + " header", value


class RefuseUnstorableInput:
    """Middleware: a 400 with the reason for input the database cannot store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = request_problem(request)
        if problem:
            return _refusal(request, 400, problem)
        return self.get_response(request)

    def process_exception(self, request, exc):
        # A page whose view saved a value check_storable refused: a 400, not a 500. (The
        # API answers the same refusal with a 422 of its own.)
        if isinstance(exc, ValidationError) and getattr(exc, "storable", False):
            return _refusal(request, 400, "; ".join(exc.messages))
        return None


def problems_of(instance: models.Model) -> dict[str, str]:
    """{field: reason} for the values of ``instance`` no database could store."""
    problems: dict[str, str] = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if value is None:
            continue
        if isinstance(value, str):
            if NUL in value:
                problems[field.name] = "contains a NUL character (\\x00), which cannot be stored"
        elif isinstance(field, models.JSONField):
            where = _nul_in_json(value)
            if where:
                problems[field.name] = f"{where} contains a NUL character (\\u0000)"
        elif isinstance(value, int) and not isinstance(value, bool):
            bounds = _RANGES.get(field.get_internal_type())
            if bounds and not bounds[0] <= value <= bounds[1]:
                problems[field.name] = f"{value} is out of range ({bounds[0]} to {bounds[1]})"
    return problems


class UnstorableValues(ValidationError):
    """Values the database would fail on: answered as a 422 naming the field."""

    storable = True


def check_storable(sender, instance, raw=False, **kwargs) -> None:
    """pre_save: refuse values the database would fail on, naming the field."""
    if raw:
        return  # fixtures are loaded as they are
    problems = problems_of(instance)
    if problems:
        label = instance._meta.verbose_name
        raise UnstorableValues([f"{label} {field}: {reason}" for field, reason in problems.items()])
