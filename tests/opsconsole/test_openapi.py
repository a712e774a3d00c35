"""The OpenAPI document: what ``tools/fuzz.py`` holds the served API to (status codes and
bodies as documented), so every operation must say what it answers."""

from __future__ import annotations

import pytest

from opsconsole.api import api

SCHEMA = api.get_openapi_schema()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in SCHEMA["paths"].items()
    for method, operation in methods.items()
]
ERROR = "#/components/schemas/ErrorOut"


def _text(schema: dict) -> bool:
    kinds = [schema, *schema.get("anyOf", [])]
    return {k.get("type") for k in kinds if k.get("type")} <= {"string", "null"} and not any(
        k.get("format") or k.get("maxLength") for k in kinds
    )


def _ids(value) -> str:
    return f"{value[0]} {value[1]}" if isinstance(value, tuple) else ""


@pytest.mark.parametrize("operation", OPERATIONS, ids=_ids)
def test_it_describes_every_operation(operation):
    _method, _path, spec = operation
    assert spec.get("description", "").strip(), "a docstring says what the operation does"


@pytest.mark.parametrize("operation", OPERATIONS, ids=_ids)
def test_every_4xx_is_the_one_error_shape(operation):
    _method, _path, spec = operation
    failures = {
        str(code): answer for code, answer in spec["responses"].items() if str(code)[0] == "4"
    }
    assert "400" in failures  # opsconsole.inputguard answers any request
    if spec.get("security"):
        assert {"401", "403"} <= set(failures)
    # Input that can fail validation (anything but free text) can get ninja's 422.
    typed = [p for p in spec.get("parameters", []) if not _text(p["schema"])]
    if typed or spec.get("requestBody"):
        assert "422" in failures
    for answer in failures.values():
        assert _says_what_was_wrong(answer["content"]["application/json"]["schema"])


def _says_what_was_wrong(schema: dict) -> bool:
    """ErrorOut, or an answer that carries more beside its one-line ``detail`` (the
    Alertmanager receiver's per-alert results)."""
    if schema == {"$ref": ERROR}:
        return True
    named = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    detail = named.get("properties", {}).get("detail", {})
    return detail.get("type") == "string" and "detail" in named.get("required", [])


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if "requestBody" in op[2]], ids=_ids)
def test_no_request_body_is_an_untyped_object(operation):
    _method, _path, spec = operation
    body = spec["requestBody"]["content"]["application/json"]["schema"]
    # One schema, or a union of named ones (a discriminated union: one per kind).
    refs = [body] if "$ref" in body else body.get("anyOf") or body.get("oneOf", [])
    assert refs and all("$ref" in ref for ref in refs), body
    for ref in refs:
        named = SCHEMA["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        assert named.get("properties"), named


@pytest.mark.parametrize(
    "path",
    ["/api/v1/alerts", "/api/v1/silences", "/api/v1/metrics", "/api/v1/channels"],
)
def test_the_main_writes_carry_examples(path):
    body = SCHEMA["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    refs = [schema] if "$ref" in schema else schema["oneOf"]
    named = [SCHEMA["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]] for ref in refs]
    assert any(one.get("examples") for one in named)


def test_no_two_schemas_share_a_name():
    # The document names components by class name: a second class of the same name
    # silently replaces the first, and its operations then document the wrong body.
    from ninja import ModelSchema
    from pydantic import BaseModel

    def body_of_a_model_schema(cls) -> bool:
        # ninja makes a ModelSchema in two steps: the class body, then the schema its
        # name holds, a subclass of the body with the model's fields and the same name.
        return issubclass(cls, ModelSchema) and any(
            (sub.__module__, sub.__qualname__) == (cls.__module__, cls.__qualname__)
            for sub in cls.__subclasses__()
        )

    def every(cls):
        for sub in cls.__subclasses__():
            if not body_of_a_model_schema(sub):
                yield sub
            yield from every(sub)

    def drafted(cls) -> bool:
        # A ModelSchema's class body makes a draft of the name that ninja then builds the
        # schema on (its one base): the document only ever sees the built one.
        return any(sub.__name__ == cls.__name__ for sub in cls.__subclasses__())

    ours = {
        c
        for c in every(BaseModel)  # ninja Schemas and plain models (the ingest body's)
        if c.__module__.split(".")[0]
        in {"alerts", "metrics", "healthchecks", "notifications", "oncall", "opsconsole"}
        and not drafted(c)
    }
    names = sorted(c.__name__ for c in ours)
    assert {"IngestIn", "BatchIn", "SampleIn", "ErrorOut"} <= set(names)
    assert sorted(set(names)) == names


def test_the_error_shape_is_what_the_handlers_send(carol, token_for, api_client):
    viewer = api_client(token_for(carol))
    missing = viewer.get("/alerts/99")
    assert missing.status_code == 404 and missing.json() == {"detail": "no alert #99"}
    invalid = viewer.get("/alerts", {"limit": "many"})
    assert invalid.status_code == 422
    assert set(invalid.json()) == {"detail", "errors"}
    assert {"type", "loc", "msg"} <= set(invalid.json()["errors"][0])
    properties = SCHEMA["components"]["schemas"]["ErrorOut"]["properties"]
    assert set(properties) == {"detail", "errors"}


def _lengths(schema, seen: set[str]) -> list[str]:
    """The places under ``schema`` (following $refs once each) that bound a length."""
    found = []
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                found += [
                    f"{name}.{p}" for p in _lengths(SCHEMA["components"]["schemas"][name], seen)
                ]
        for key, value in schema.items():
            if key == "maxLength":
                found.append(key)
            elif key != "$ref":
                found += [f"{key}.{p}" for p in _lengths(value, seen)]
    elif isinstance(schema, list):
        for item in schema:
            found += _lengths(item, seen)
    return found


@pytest.mark.parametrize("operation", OPERATIONS, ids=_ids)
def test_no_answer_is_refused_for_a_stored_value_s_length(operation):
    # The API validates its answers against these shapes: a length bound on an answer
    # would make a value stored longer than its column (SQLite does not enforce column
    # lengths) a 500 instead of the value as stored.
    _method, _path, spec = operation
    for code, answer in spec["responses"].items():
        if str(code)[0] != "2":
            continue
        for content in answer.get("content", {}).values():
            assert _lengths(content.get("schema", {}), set()) == [], code
