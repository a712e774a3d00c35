"""Uptime read from flips over 24 h, 7 d and 30 d."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from healthchecks.models import Flip
from healthchecks.uptime import uptimes

pytestmark = pytest.mark.django_db


def flip(endpoint, at, old, new):
    Flip.objects.create(endpoint=endpoint, time=at, old_state=old, new_state=new)


def test_one_hour_down_in_the_last_day_is_about_95_8_percent(make_endpoint):
    endpoint = make_endpoint()
    now = timezone.now()
    flip(endpoint, now - timedelta(days=40), "unknown", "up")
    flip(endpoint, now - timedelta(hours=3), "up", "down")
    flip(endpoint, now - timedelta(hours=2), "down", "up")
    figures = uptimes([endpoint.pk], now, {endpoint.pk: "up"})[endpoint.pk]
    assert figures["24h"] == pytest.approx(100 * 23 / 24, abs=0.001)
    assert figures["7d"] == pytest.approx(100 * (7 * 24 - 1) / (7 * 24), abs=0.001)


def test_time_in_unknown_counts_neither_way(make_endpoint):
    endpoint = make_endpoint()
    now = timezone.now()
    flip(endpoint, now - timedelta(hours=2), "unknown", "up")
    figures = uptimes([endpoint.pk], now, {endpoint.pk: "up"})[endpoint.pk]
    assert figures["24h"] == 100.0


def test_never_checked_has_no_uptime(make_endpoint):
    endpoint = make_endpoint()
    assert uptimes([endpoint.pk], timezone.now(), {endpoint.pk: "unknown"})[endpoint.pk] == {
        "24h": None,
        "7d": None,
        "30d": None,
    }


def test_down_all_window_long_is_zero(make_endpoint):
    endpoint = make_endpoint()
    now = timezone.now()
    flip(endpoint, now - timedelta(days=60), "unknown", "down")
    assert uptimes([endpoint.pk], now, {endpoint.pk: "down"})[endpoint.pk]["30d"] == 0.0
