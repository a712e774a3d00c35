from __future__ import annotations

from django.urls import path

from healthchecks import views

urlpatterns = [
    path("services/", views.services, name="services"),
    path("services/pulse/", views.pulse_partial, name="data_source_pulse"),
    path("ping/<uuid:ping_uuid>", views.ping, name="heartbeat_ping"),
    path("ping/<uuid:ping_uuid>/start", views.ping, {"signal": "start"}, name="heartbeat_start"),
    path("ping/<uuid:ping_uuid>/fail", views.ping, {"signal": "fail"}, name="heartbeat_fail"),
    path("badge/<str:ref>.svg", views.status_badge, name="service_badge"),
]
