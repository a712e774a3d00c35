"""The on-call endpoints are in the API's OpenAPI document."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_the_openapi_document_lists_the_on_call_endpoints(client, carol):
    client.force_login(carol)
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/people/{person_id}/contact-methods",
        "/api/v1/people/{person_id}/notification-rules",
        "/api/v1/schedules",
        "/api/v1/schedules/{schedule_id}/oncall",
        "/api/v1/schedules/{schedule_id}/overrides",
        "/api/v1/escalation-policies",
    ):
        assert path in paths, path
