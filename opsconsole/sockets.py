"""Who may open a live socket, and for how long: every consumer admits its visitor the
same way, and closes once the session that opened it no longer holds.

A socket is authenticated once, when it opens; without more, a page opened before its
account's password changed or before it was deactivated would go on streaming. So
every save, deletion or group change of an account publishes ``account.changed`` to
the ``accounts`` group (after commit, from whichever process made it: the admin,
``manage.py changepassword``, a script), and each open socket of that account checks
its session again: signed out (password changed, account inactive or gone) closes with
4401, a role lost with 4403.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest
from django.utils.module_loading import import_string

from opsconsole.live import local_fanout, publish_on_commit
from opsconsole.roles import Role, role_of

# Close codes the pages understand: sign in again, or ask for a role. They do not retry.
NOT_SIGNED_IN, NO_ROLE = 4401, 4403
ACCOUNTS_GROUP = "accounts"


@database_sync_to_async
def _role(user) -> Role:
    return role_of(user)


@database_sync_to_async
def _session_role(session_key: str | None) -> Role | None:
    """The role the socket's session grants now; None once it signs nobody in."""
    if not session_key:
        return None
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    # Django's own check, as on the next page load: the session exists, names an
    # active user through its backend, and its password hash is still the user's.
    # get_user() reads only the request's session.
    user = get_user(cast(HttpRequest, SimpleNamespace(session=store)))
    if not user.is_authenticated:
        return None
    return role_of(user)


async def admit(consumer) -> Role | None:
    """The visitor's role, or None once the socket is closed with the reason."""
    user = consumer.scope.get("user")
    if user is None or not user.is_authenticated:
        await consumer.close(code=NOT_SIGNED_IN)
        return None
    role = await _role(user)
    if role < Role.VIEWER:
        await consumer.close(code=NO_ROLE)
        return None
    if isinstance(consumer, LiveConsumer):
        await consumer.watch_account(user.pk)
    return role


class LiveConsumer(AsyncWebsocketConsumer):
    """A console page's socket: events come through the process's shared fan-out, and
    the socket ends when its account's session does."""

    # No layer channel of its own: an alias that names no layer makes Channels skip
    # the per-consumer channel (see opsconsole.live.LocalFanout).
    channel_layer_alias = "fanout-only"
    _watched_user_id: int | None = None

    async def watch_account(self, user_id: int) -> None:
        self._watched_user_id = user_id
        await local_fanout().join(ACCOUNTS_GROUP, self.account_changed)

    async def account_changed(self, event) -> None:
        if event.get("user_id") != self._watched_user_id:
            return
        role = await _session_role(getattr(self.scope.get("session"), "session_key", None))
        if role is None:
            await self.close(code=NOT_SIGNED_IN)
        elif role < Role.VIEWER:
            await self.close(code=NO_ROLE)

    async def websocket_disconnect(self, message):
        if self._watched_user_id is not None:
            self._watched_user_id = None
            await local_fanout().leave(ACCOUNTS_GROUP, self.account_changed)
        await super().websocket_disconnect(message)


# -- telling open sockets ------------------------------------------------------------------
def _changed(user_id) -> None:
    if user_id is not None:
        publish_on_commit(ACCOUNTS_GROUP, {"type": "account.changed", "user_id": user_id})


def _user_saved(sender, instance, update_fields=None, raw=False, **kwargs):
    # A login writes last_login alone (every login would otherwise wake every socket).
    if raw or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    _changed(instance.pk)


def _user_deleted(sender, instance, **kwargs):
    _changed(instance.pk)


def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        _changed(instance.pk)
    else:  # a group's members were edited; a group cleared from its side names none
        for user_id in pk_set or ():
            _changed(user_id)


def connect() -> None:
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_delete, post_save

    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="sockets.user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="sockets.user_deleted")
    m2m_changed.connect(
        _groups_changed, sender=user_model.groups.through, dispatch_uid="sockets.groups"
    )
