from django.urls import path

from healthchecks.consumers import ServicesConsumer
from metrics.consumers import VitalsConsumer

websocket_urlpatterns = [
    path("ws/vitals/<int:host_id>/", VitalsConsumer.as_asgi()),
    path("ws/services/", ServicesConsumer.as_asgi()),
]
