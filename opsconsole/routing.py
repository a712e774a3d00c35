from django.urls import path

from metrics.consumers import VitalsConsumer

websocket_urlpatterns = [
    path("ws/vitals/<int:host_id>/", VitalsConsumer.as_asgi()),
]
