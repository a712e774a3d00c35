"""Small helpers every app's API router shares: the one error shape and the responses
each operation documents, the operations on one row by its id, row ids in range,
lookups that 404 with a reason, answers made of a model's columns, and admin forms
reused as the API's validation with their errors as one 422 line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from django.db.models import Model, QuerySet
from django.forms import BaseForm
from ninja import Field, Path, Router, Schema
from ninja.errors import HttpError
from pydantic import (
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from opsconsole.inputguard import INT32_MAX, INT64

# The default of a PATCH field typed without None: "not sent" (the handlers read the
# body with exclude_unset), while an explicit null is refused with a 422. Typed Any
# because pydantic never validates a default, so None may stand in for a str or an int.
NOT_SENT: Any = None
M = TypeVar("M", bound=Model)
F = TypeVar("F", bound=BaseForm)
H = TypeVar("H", bound=Callable[..., Any])

# Row ids are 64-bit on both databases. A larger one names no row, and SQLite cannot
# even compare it (OverflowError, a 500), so it is refused as invalid input (422).
MAX_ROW_ID = INT64 - 1
RowId = Annotated[int, Path(..., ge=1, le=MAX_ROW_ID)]
RowRef = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
# PostgreSQL's integer, the column of counts and sizes (SQLite's would take 64 bits).
MAX_INT = INT32_MAX


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


class ById:
    """The operations on one row by its id at ``path`` of ``router`` (``"/{silence_id}"``),
    reading with ``read`` and changing with ``write`` auth. Each documents what every
    such operation answers beside its own ``codes``: 404 (no such row) and 422 (an id
    out of range, a body that does not validate), and 413 where it takes a body.

        silence_item = ById(silences_router, "/{silence_id}", read=api_auth(), write=WRITE)

        @silence_item.get(SilenceOut, url_name="get_silence")
        def get_silence(request, silence_id: RowId): ...
    """

    def __init__(self, router: Router, path: str, *, read: Any, write: Any) -> None:
        self.router, self.path, self.read, self.write = router, path, read, write

    def get(self, out: Any, *codes: int, url_name: str) -> Callable[[H], H]:
        return self._on(self.router.get, {200: out}, self.read, url_name, 404, 422, *codes)

    def patch(self, out: Any, *codes: int, url_name: str) -> Callable[[H], H]:
        return self._on(self.router.patch, {200: out}, self.write, url_name, 404, 413, 422, *codes)

    def put(self, out: Any, *codes: int, url_name: str) -> Callable[[H], H]:
        return self._on(self.router.put, {200: out}, self.write, url_name, 404, 413, 422, *codes)

    def delete(self, *codes: int, url_name: str) -> Callable[[H], H]:
        return self._on(self.router.delete, {204: None}, self.write, url_name, 404, 422, *codes)

    def _on(
        self, add: Callable[..., Any], ok: dict[int, Any], auth: Any, url_name: str, *codes: int
    ) -> Callable[[H], H]:
        decorate: Callable[[H], H] = add(
            self.path, response=answers(ok, *codes), auth=auth, url_name=url_name
        )
        return decorate


def _columns_as_answered(schema: dict[str, Any], cls: type) -> None:
    """The document of a StoredColumns schema: every column listed in its ``Meta.fields``
    is in every answer, null only where the column takes null (ninja types a blank or
    defaulted column as optional and nullable, as an input may leave it out), no answer
    is held to a column's ``max_length``, and the model's words are plain text."""
    meta = cls.Meta  # type: ignore[attr-defined]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    for name in meta.fields:
        prop = properties.get(name)
        if prop is None:
            continue
        nullable = bool(meta.model._meta.get_field(name).null)
        kinds = prop.pop("anyOf", None)
        if kinds is not None:
            kinds = [k for k in kinds if nullable or k.get("type") != "null"]
            if len(kinds) == 1:
                prop.update(kinds[0])
            else:
                prop["anyOf"] = kinds
        for kind in [prop, *prop.get("anyOf", [])]:
            kind.pop("maxLength", None)
        for key in ("title", "description"):  # the model's words may be lazy translations
            if key in prop:
                prop[key] = str(prop[key])
        prop.pop("default", None)
        required.add(name)
    schema["required"] = [name for name in properties if name in required]


class StoredColumns(Schema):
    """Mixed into an answer's ModelSchema (``class RuleColumns(StoredColumns,
    ModelSchema)``): the answer says what is stored. Its document has every column
    required, null only where the column takes null, and a text longer than its
    column's ``max_length`` (SQLite keeps one) is answered as stored rather than
    failing the answer with a 500."""

    # A subclass that sets json_schema_extra (examples) replaces this: add them here.
    model_config = ConfigDict(json_schema_extra=_columns_as_answered)

    @field_validator("*", mode="wrap")
    @classmethod
    def _as_stored(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        try:
            return handler(value)
        except ValidationError:
            if isinstance(value, str) and info.context and "response_status" in info.context:
                return value
            raise


def one_or_404(rows: type[M] | QuerySet[M], what: str, **lookup: Any) -> M:
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
