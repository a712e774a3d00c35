from django.urls import path

from alerts.consumers import AlertDetailConsumer, AlertListConsumer
from healthchecks.consumers import ServicesConsumer
from metrics.consumers import FleetConsumer, VitalsConsumer
from opsconsole.consumers import AuditConsumer

websocket_urlpatterns = [
    path("ws/vitals/<int:host_id>/", VitalsConsumer.as_asgi()),
    path("ws/hosts/", FleetConsumer.as_asgi()),
    path("ws/alerts/", AlertListConsumer.as_asgi()),
    path("ws/alerts/<int:alert_id>/", AlertDetailConsumer.as_asgi()),
    path("ws/audit/", AuditConsumer.as_asgi()),
    path("ws/services/", ServicesConsumer.as_asgi()),
]
