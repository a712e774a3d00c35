"""Roles: viewers read; responders also act on alerts; admins also configure.

A role is a Django group of that name; superusers are admins. The ``load_defaults``
command creates the groups.
"""

from __future__ import annotations

from enum import IntEnum


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
