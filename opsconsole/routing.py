from collections.abc import Callable
from typing import Any, cast

from django.urls import path

from alerts.consumers import AlertDetailConsumer, AlertListConsumer
from healthchecks.consumers import ServicesConsumer
from metrics.consumers import FleetConsumer, VitalsConsumer
from opsconsole.consumers import AuditConsumer

# Channels routes a consumer's ASGI app with Django's path(), which django-stubs types
# for HTTP views only (channels' URLRouter takes the patterns it makes).
websocket_path = cast(Callable[..., Any], path)

websocket_urlpatterns = [
    websocket_path("ws/vitals/<int:host_id>/", VitalsConsumer.as_asgi()),
    websocket_path("ws/hosts/", FleetConsumer.as_asgi()),
    websocket_path("ws/alerts/", AlertListConsumer.as_asgi()),
    websocket_path("ws/alerts/<int:alert_id>/", AlertDetailConsumer.as_asgi()),
    websocket_path("ws/audit/", AuditConsumer.as_asgi()),
    websocket_path("ws/services/", ServicesConsumer.as_asgi()),
]
