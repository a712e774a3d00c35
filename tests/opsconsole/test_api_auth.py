"""Who the API turns away, and what it tells them."""

from __future__ import annotations

import json

import pytest
from django.test import Client

WRITES = [
    ("post", "/api/v1/alerts", {"title": "x", "alert_type": "x", "resource": "r"}),
    ("post", "/api/v1/metrics/collect", {}),
    ("post", "/api/v1/alerts/check", {}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_an_unauthenticated_write_gets_401_with_how_to_authenticate(method, path, body):
    # A real browser's client checks CSRF, as the console does for sessions.
    response = getattr(Client(enforce_csrf_checks=True), method)(
        path, json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 401, response.content
    detail = response.json()["detail"]
    assert "authentication required" in detail and "Bearer" in detail
    assert "CSRF" not in detail


@pytest.mark.django_db
def test_an_unauthenticated_write_with_a_stale_cookie_still_gets_401():
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "no-such-session"
    response = client.post("/api/v1/metrics/collect")
    assert response.status_code == 401


def test_a_signed_in_write_without_the_token_still_fails_the_csrf_check(bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    response = client.post("/api/v1/metrics/collect")
    assert response.status_code == 403
    assert "X-CSRFToken" in response.json()["detail"]


@pytest.mark.django_db
def test_an_unauthenticated_console_write_gets_401_too():
    response = Client(enforce_csrf_checks=True).post("/alerts/actions/", {"action": "ack"})
    assert response.status_code == 401
    assert "Log in" in response.content.decode()


@pytest.mark.django_db
def test_a_login_form_without_its_csrf_cookie_is_still_a_csrf_failure():
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
