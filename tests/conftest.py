"""Shared fixtures. Users: alice (admin), bob (responder), carol (viewer), and
mallory, who is logged in but holds no role and must see nothing."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    from metrics import ingest

    cache.clear()
    # Ids cached per process would point at rows of a rolled-back test.
    ingest._metric_ids.clear()
    yield
    cache.clear()
    ingest._metric_ids.clear()


def _user(username: str, group: str | None = None, **extra):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=username, password="pw-" + username, **extra)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def alice(db):
    return _user("alice", "Admins", is_staff=True)


@pytest.fixture
def bob(db):
    return _user("bob", "Responders")


@pytest.fixture
def carol(db):
    return _user("carol", "Viewers")


@pytest.fixture
def mallory(db):
    return _user("mallory")


@pytest.fixture
def admin_client(client, alice):
    """The test client logged in as alice, her Admins group holding the permissions a
    console's first start grants (the default rules and routes are not made)."""
    from opsconsole.bootstrap import grant_role_permissions

    grant_role_permissions()
    client.force_login(alice)
    return client


@pytest.fixture
def token_for(db):
    """token_for(user, "read,ingest") -> the raw bearer token."""
    from opsconsole.models import ApiToken

    def make(user, scopes: str = "read") -> str:
        _, raw = ApiToken.issue(user=user, name="test", scopes=scopes.split(","))
        return raw

    return make


@pytest.fixture
def api_client(client):
    """A Django test client that speaks JSON to /api/v1/."""

    class ApiClient:
        def __init__(self, token: str | None = None):
            self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

        def get(self, path, params=None):
            return client.get(f"/api/v1{path}", params or {}, **self.headers)

        def post(self, path, body=None, **extra):
            import json

            return client.post(
                f"/api/v1{path}",
                json.dumps(body if body is not None else {}),
                content_type="application/json",
                **self.headers,
                **extra,
            )

        def client_patch(self, path, body=None):
            import json

            return client.patch(
                f"/api/v1{path}",
                json.dumps(body if body is not None else {}),
                content_type="application/json",
                **self.headers,
            )

        def client_delete(self, path):
            return client.delete(f"/api/v1{path}", **self.headers)

    return ApiClient
