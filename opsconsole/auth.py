"""API authentication: the browser's session (CSRF checked) or a hashed bearer token.

A token's scopes bound what it may do (read, write, ingest); the token's user's role
bounds it too, so a token never does more than its owner could.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth
from ninja.utils import check_csrf

from opsconsole.generations import Generation, ProcessCopies
from opsconsole.models import ApiToken, Scope, hash_token
from opsconsole.roles import Role, role_of

# Writing last_used on every request would turn reads into writes; once a minute is enough.
_LAST_USED_RESOLUTION = timedelta(minutes=1)

# Tokens with their owners (and the owner's role, cached on the user), per process: an
# agent fleet authenticates thousands of times a minute with the same few tokens. Any
# change to a token, a user or group membership bumps the generation (see
# ``token_changed``), which every process checks once per request.
TOKENS = Generation("api-tokens")
_tokens = ProcessCopies(TOKENS, max_entries=10_000)


def token_changed(*args, **kwargs) -> None:
    """Signal receiver: tokens, users or groups changed; forget every process's copies.

    Bumped at once and again after commit, so a process that read the old row while
    the change was not yet committed drops its copy too.
    """
    TOKENS.bump()
    transaction.on_commit(TOKENS.bump)


def _token(token_hash: str) -> ApiToken | None:
    copies = _tokens.fresh()
    if token_hash in copies:
        return copies[token_hash]
    token = ApiToken.objects.select_related("user").filter(token_hash=token_hash).first()
    if token is not None:
        role_of(token.user)  # read the groups now, kept on the user with the copy
    copies[token_hash] = token
    return token


def _check_token(request, raw: str, scope: str, role: Role = Role.VIEWER):
    if not raw:
        return None
    token = _token(hash_token(raw.strip()))
    if token is None or not token.is_usable:
        return None
    if scope not in token.scopes:
        raise HttpError(
            403, f"this token lacks the {str(scope)!r} scope (it has: {', '.join(token.scopes)})"
        )
    if role_of(token.user) < role:
        raise HttpError(
            403, f"this needs the {role.name.lower()} role, which the token's owner lacks"
        )
    now = timezone.now()
    if token.last_used is None or now - token.last_used > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    request.user = token.user
    request.api_token = token
    return token.user


class TokenAuth(HttpBearer):
    def __init__(self, scope: str = Scope.READ, role: Role = Role.VIEWER):
        super().__init__()
        self.scope = scope
        self.role = role

    def authenticate(self, request, token):
        return _check_token(request, token, self.scope, self.role)


class TokenHeaderAuth(APIKeyHeader):
    """``X-API-Token: <token>`` for clients that cannot set Authorization."""

    param_name = "X-API-Token"

    def __init__(self, scope: str = Scope.READ, role: Role = Role.VIEWER):
        super().__init__()
        self.scope = scope
        self.role = role

    def authenticate(self, request, key):
        return _check_token(request, key, self.scope, self.role)


class RoleSessionAuth(SessionAuth):
    """A logged-in user with at least ``role``; CSRF is checked on unsafe methods."""

    def __init__(self, role: Role = Role.VIEWER):
        super().__init__()
        self.role = role

    def _get_key(self, request):
        # Without a signed-in session there is nothing for CSRF to protect: an
        # anonymous write is unauthenticated (401, saying how to authenticate), not a
        # failed CSRF check (403), which told a script nothing about its missing token.
        if not request.user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(
                403,
                "CSRF check failed: a write with a session must send the csrftoken "
                "cookie's value in an X-CSRFToken header",
            )
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is None:
            return None
        if role_of(user) < self.role:
            raise HttpError(403, f"this needs the {self.role.name.lower()} role")
        return user


def api_auth(scope: str = Scope.READ, role: Role = Role.VIEWER) -> list:
    return [TokenAuth(scope, role), TokenHeaderAuth(scope, role), RoleSessionAuth(role)]
