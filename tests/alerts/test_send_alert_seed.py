"""Seed 000's ``send_alert`` example: a message with no exception still gets advice for
what it says, and its headline says the level once."""

from __future__ import annotations

import pytest

from alerts.notify import AlertLevel, get_alert_manager

pytestmark = pytest.mark.django_db


def _seed_example():
    return get_alert_manager().send_alert(
        message="CRITICAL: Primary Postgres Connection Failed [ECONNREFUSED]",
        level=AlertLevel.CRITICAL,
        channels=None,
        context={"node": "worker-01", "retry_count": 5},
    )


def test_a_refused_postgres_connection_gets_server_port_credentials_and_pool_advice():
    advice = " ".join(_seed_example().recommendations)
    assert "PostgreSQL server up" in advice and "worker-01" in advice
    assert "5432" in advice and "credentials" in advice and "pool" in advice


def test_the_headline_says_critical_once():
    from notifications.notifiers.message import Message

    alert = _seed_example()
    assert alert.title == "Primary Postgres Connection Failed [ECONNREFUSED]"
    assert alert.message.startswith("CRITICAL: Primary Postgres"), "the text is kept whole"
    headline = Message(transition="firing", title=alert.title, text="", severity="critical")
    assert headline.headline == "[CRITICAL] Primary Postgres Connection Failed [ECONNREFUSED]"


def test_a_prefix_naming_another_level_is_kept():
    alert = get_alert_manager().send_alert("WARNING: disk 85 % full", level="critical")
    assert alert.title == "WARNING: disk 85 % full"
    plain = get_alert_manager().send_alert("[ERROR] export failed", level=AlertLevel.ERROR)
    assert plain.title == "export failed"
