"""Roles: viewers read; responders also act on alerts; admins also configure.

A role is a Django group of that name; superusers are admins. The ``load_defaults``
command creates the groups.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    class SignedInRequest(HttpRequest):
        """A request that role_required() let through: its user is signed in."""

        user: User


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    RESPONDER = 2
    ADMIN = 3


GROUP_NAMES = {Role.VIEWER: "Viewers", Role.RESPONDER: "Responders", Role.ADMIN: "Admins"}


def role_of(user) -> Role:
    if user is None or not user.is_authenticated or not user.is_active:
        return Role.NONE
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_opsconsole_role", None)
    if cached is not None:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = Role.VIEWER if user.is_staff else Role.NONE
    for candidate in (Role.ADMIN, Role.RESPONDER, Role.VIEWER):
        if GROUP_NAMES[candidate] in names:
            role = max(role, candidate)
            break
    user._opsconsole_role = role
    return role


def has_role(user, needed: Role) -> bool:
    return role_of(user) >= needed


def role_required(needed: Role):
    """View decorator: anonymous users go to the login page; a signed-in user without
    the role gets a 403 page that says which role is missing."""
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.shortcuts import render

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, needed):
                return render(
                    request,
                    "403.html",
                    {"needed": GROUP_NAMES[needed], "role": role_of(request.user)},
                    status=403,
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
