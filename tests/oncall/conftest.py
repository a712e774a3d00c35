"""Fixtures for on-call tests: the notification tests' loopback receivers and channels,
and people with verified contact methods."""

from __future__ import annotations

import pytest

from tests.notifications.conftest import (  # noqa: F401 (fixtures)
    _allow_loopback,
    make_channel,
    receiver,
    smtp,
)


@pytest.fixture
def verified(db):
    """verified(user, kind, address, **fields) -> a ContactMethod already verified."""
    from django.utils import timezone

    from oncall.models import ContactMethod

    def make(user, kind="email", address=None, **fields):
        address = (
            address
            or {
                "email": f"{user.username}@example.com",
                "phone": "+15550001000",
                "slack": "U0" + user.username.upper(),
                "telegram": "4242",
            }[kind]
        )
        return ContactMethod.objects.create(
            user=user, kind=kind, address=address, verified_at=timezone.now(), **fields
        )

    return make


@pytest.fixture
def email_channel(make_channel, smtp):  # noqa: F811 (the fixtures imported above)
    return make_channel(
        "email",
        name="mail",
        config={"to": ["team@example.com"], "host": "127.0.0.1", "port": smtp.port},
    )
