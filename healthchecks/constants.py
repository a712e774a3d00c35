"""The health-check vocabulary: kinds of endpoint and the states a check can be in."""

from __future__ import annotations

import re

from django.db import models


class Kind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP connect"
    DATABASE = "database", "Console database"
    REDIS = "redis", "Redis"
    QUEUE = "queue", "Task queue (django-q2)"
    HEARTBEAT = "heartbeat", "Heartbeat / cron"


class State(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    UP = "up", "Up"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"


# The alert types a service endpoint's checks raise (resource: the endpoint's name).
DOWN_ALERT = "service_down"
SLOW_ALERT = "service_slow"


class Outcome(models.TextChoices):
    """What one check found, before retries turn it into a state."""

    OK = "ok", "OK"
    SLOW = "slow", "Slow"
    FAIL = "fail", "Failed"


# Badge and page colours by state.
STATE_COLOURS = {
    State.UP: "#2e7d32",
    State.DEGRADED: "#ef8f00",
    State.DOWN: "#c62828",
    State.UNKNOWN: "#757575",
}


# Recovery actions (seed 003's RECONNECT, RESTART, ..., NOTIFY_ADMIN): NOTIFY_ADMIN emails
# the admins; any other name is POSTed to the endpoint's recovery webhook.
NOTIFY_ADMIN = "NOTIFY_ADMIN"
DEFAULT_RECOVERY_ACTIONS = ("RESTART",)
ACTION_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
