"""The notification fixtures (loopback receivers, channels aimed at them) for the tests
that join notifications to the console, /metrics, configuration as code and the audit."""

from __future__ import annotations

from tests.notifications.conftest import _allow_loopback, make_channel, receiver, route_all

__all__ = ["_allow_loopback", "make_channel", "receiver", "route_all"]
