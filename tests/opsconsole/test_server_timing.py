"""Every answer says how long the console took over it (``Server-Timing: app;dur=…``),
refusals and errors made by other middleware included."""

from __future__ import annotations

import re
import time

import pytest

TIMING = re.compile(r"^app;dur=(\d+\.\d{2})$")


def _timed(client, path, **extra):
    started = time.perf_counter()
    response = client.get(path, **extra)
    wall_ms = (time.perf_counter() - started) * 1000
    match = TIMING.match(response.headers.get("Server-Timing", ""))
    assert match, response.headers.get("Server-Timing")
    return response, float(match.group(1)), wall_ms


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login/", 200),
        ("/alerts/", 302),  # not logged in: sent to the login page
        ("/api/v1/alerts", 401),
        ("/alerts/?q=%00", 400),  # refused by the input guard, itself timed
    ],
)
def test_each_answer_carries_the_console_s_own_time(client, path, status):
    response, app_ms, wall_ms = _timed(client, path)
    assert response.status_code == status
    # The console's part of the request, never more than the whole of it.
    assert 0 <= app_ms <= wall_ms


@pytest.mark.django_db
def test_an_api_answer_carries_it_too(client, alice, token_for):
    token = token_for(alice, "read")
    response, app_ms, wall_ms = _timed(
        client, "/api/v1/alerts", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    assert 0 <= app_ms <= wall_ms
