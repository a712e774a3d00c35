"""Who may open a live socket: every consumer admits its visitor the same way."""

from __future__ import annotations

from channels.db import database_sync_to_async

from opsconsole.roles import Role, role_of

# Close codes the pages understand: sign in again, or ask for a role. They do not retry.
NOT_SIGNED_IN, NO_ROLE = 4401, 4403


@database_sync_to_async
def _role(user) -> Role:
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
    return role
