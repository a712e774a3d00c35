"""Seed 003's "Log" notification channel: the alert written to the structured log, one
JSON line with the alert's fields, for log shippers."""

from __future__ import annotations

import json
import logging

import pytest

from notifications.models import Notification
from opsconsole.logs import JsonFormatter
from tests.notifications.helpers import fire, resolve

pytestmark = pytest.mark.django_db


def _lines(caplog):
    return [r for r in caplog.records if r.name == "opsconsole.alerts"]


def test_it_writes_the_alert_as_one_json_line(
    make_channel, route_all, caplog, django_capture_on_commit_callbacks
):
    make_channel("log", name="log shipper")
    with caplog.at_level(logging.INFO, logger="opsconsole.alerts"):
        alert = fire(django_capture_on_commit_callbacks)
    [record] = _lines(caplog)
    assert record.levelno == logging.CRITICAL
    entry = json.loads(JsonFormatter(hostname="console-01").format(record))
    assert entry["event"] == "[CRITICAL] Disk almost full - db-01"
    assert entry["logger"] == "opsconsole.alerts" and entry["level"] == "critical"
    assert (entry["alert_id"], entry["transition"], entry["resource"]) == (
        alert.pk,
        "firing",
        "db-01",
    )
    assert (entry["value"], entry["threshold"], entry["severity"]) == (97.0, 90.0, "critical")
    assert entry["alert_message"] == "Disk / is at 97% (threshold: 90%)"
    assert entry["recommendations"][0].startswith("Find the largest consumers")
    assert entry["url"].endswith(f"/alerts/{alert.pk}/")
    assert Notification.objects.get(alert=alert).status == "sent"


def test_a_resolution_is_logged_at_info_and_a_level_can_be_set(
    make_channel, route_all, caplog, django_capture_on_commit_callbacks
):
    make_channel("log", name="log shipper")
    with caplog.at_level(logging.DEBUG, logger="opsconsole.alerts"):
        alert = fire(django_capture_on_commit_callbacks, priority="warning")
        resolve(django_capture_on_commit_callbacks, alert)
    fired, resolved = _lines(caplog)
    assert fired.levelno == logging.WARNING
    assert resolved.levelno == logging.INFO and resolved.transition == "resolved"
    assert resolved.getMessage().startswith("[RESOLVED]")


def test_its_settings_are_checked(make_channel):
    from notifications.channels import ChannelError, save_channel

    with pytest.raises(ChannelError, match=r"config\.level must be one of"):
        save_channel(name="loud log", kind="log", config={"level": "shout"})
    channel = save_channel(name="quiet log", kind="log", config={"level": "info"})
    assert channel.kind == "log"
