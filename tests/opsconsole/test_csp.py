"""Every page is served with a Content-Security-Policy that runs the console's own
scripts only, and the pages need nothing more."""

from __future__ import annotations

import re

import pytest

PAGES = ["/", "/alerts/", "/alerts/patterns/", "/station/", "/services/", "/admin/"]


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()
    }


@pytest.mark.django_db
def test_it_runs_no_script_but_the_console_s_own():
    from django.test import Client

    policy = _policy(Client().get("/login/"))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_carry_no_inline_script_the_policy_would_block(client, alice, path):
    from tests.metrics.helpers import store

    store("web-01", {})
    store("web-02", {})  # two hosts: the System Monitor shows its host picker
    client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.content.decode()
    assert not re.findall(r"<[^>]*\son[a-z]+=", html), "inline event handlers do not run"
    inline = [s for s in re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)]
    assert all('type="application/json"' in attrs for attrs in inline), inline
