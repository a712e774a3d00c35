"""Small helpers every app's API router shares: the one error shape and the responses
each operation documents, row ids in range, lookups that 404 with a reason, and admin
forms reused as the API's validation with their errors as one 422 line."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

import annotated_types
from django.db.models import Model, QuerySet
from django.forms import BaseForm
from ninja import Field, Path, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict
from pydantic.config import JsonDict, JsonValue

from opsconsole.inputguard import INT32_MAX, INT64

# The default of a PATCH field typed without None: "not sent" (the handlers read the
# body with exclude_unset), while an explicit null is refused with a 422. Typed Any
# because pydantic never validates a default, so None may stand in for a str or an int.
NOT_SENT: Any = None
M = TypeVar("M", bound=Model)
F = TypeVar("F", bound=BaseForm)

# Row ids are 64-bit on both databases. A larger one names no row, and SQLite cannot
# even compare it (OverflowError, a 500), so it is refused as invalid input (422).
MAX_ROW_ID = INT64 - 1
RowId = Annotated[int, Path(..., ge=1, le=MAX_ROW_ID)]
RowRef = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
# PostgreSQL's integer, the column of counts and sizes (SQLite's would take 64 bits).
MAX_INT = INT32_MAX


def _every_field_sent(schema: JsonDict) -> None:
    properties = schema.get("properties")
    required: list[JsonValue] = [*properties] if isinstance(properties, dict) else []
    schema["required"] = required


# An answer's shape made from a model (ninja's ModelSchema) calls the fields with a model
# default optional, as a body's would be; an answer carries every field, and says so.
WHOLE_ANSWER = ConfigDict(json_schema_extra=_every_field_sent)
S = TypeVar("S", bound=type[Schema])


def model_answer(schema: S) -> S:
    """An answer made from a model (a ModelSchema): every field sent (WHOLE_ANSWER), and
    no column's ``max_length`` kept. ninja copies a CharField's length into the shape,
    which suits a body; on an answer it would turn a stored value longer than its
    column (SQLite does not enforce lengths) into a failed validation, a 500, where
    the value should be shown as stored."""
    schema.model_config = {**schema.model_config, **WHOLE_ANSWER}
    for field in schema.model_fields.values():
        field.metadata = [m for m in field.metadata if not isinstance(m, annotated_types.MaxLen)]
    schema.model_rebuild(force=True)
    return schema


class FieldError(Schema):
    type: str = Field(..., examples=["missing"])
    loc: list[str | int] = Field(..., examples=[["body", "payload", "title"]])
    msg: str = Field(..., examples=["Field required"])


class ErrorOut(Schema):
    """Every 4xx of the API (opsconsole.api's handlers and opsconsole.inputguard)."""

    detail: str = Field(..., description="what was wrong, in one line", examples=["no alert #42"])
    errors: list[FieldError] | None = Field(
        None, description="422 from input validation only: each field's problem"
    )


def answers(ok: dict[int, Any], *codes: int, public: bool = False) -> dict[int, Any]:
    """An operation's documented responses: ``ok`` plus ErrorOut for 400 (a NUL byte
    anywhere in the request or a query integer past 64 bits, refused before routing;
    a body that is not JSON), 401 and 403 (unless ``public``) and each of ``codes`` the
    operation itself answers."""
    failures = {400, *codes} if public else {400, 401, 403, *codes}
    return {**ok, **dict.fromkeys(sorted(failures), ErrorOut)}


def one_or_404(rows: type[M] | QuerySet[M], what: str, **lookup) -> M:
    """The row matching ``lookup``, or a 404 saying ``no <what>``."""
    queryset = rows._default_manager.all() if isinstance(rows, type) else rows
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


def valid_or_422(form: F) -> F:
    """The form, if valid; else a 422 with every field's errors on one line."""
    if not form.is_valid():
        raise HttpError(
            422,
            "; ".join(
                f"{field}: {' '.join(map(str, errors))}" for field, errors in form.errors.items()
            ),
        )
    return form
