from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from alerts import views as alert_views
from dashboard.views import plain_status
from metrics import views as metrics_views
from opsconsole.api import api
from opsconsole.exposition import metrics_view
from opsconsole.views import plain_health, sentry_station

urlpatterns = [
    path("", metrics_views.system_monitor, name="system_monitor"),
    path("hosts/", metrics_views.hosts_page, name="hosts"),
    path("system/<int:host_id>/vitals/", metrics_views.vitals_partial, name="vitals_partial"),
    path("system/<int:host_id>/charts/", metrics_views.charts_partial, name="charts_partial"),
    path("alerts/", alert_views.alert_list, name="alert_list"),
    path("alerts/patterns/", alert_views.alert_patterns, name="alert_patterns"),
    path("alerts/actions/", alert_views.alert_action, name="alert_action"),
    path("alerts/<int:alert_id>/", alert_views.alert_detail, name="alert_detail"),
    path("station/", sentry_station, name="sentry_station"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health", plain_health, name="plain_health"),
    path("status", plain_status, name="plain_status"),
    path("metrics", metrics_view, name="prometheus_metrics"),
    # Channels, routing rules and the delivery log were the alerts app's: old bookmarks
    # still land on their pages.
    re_path(
        r"^admin/alerts/(?P<rest>(?:notificationchannel|routingrule|notification)/.*)$",
        RedirectView.as_view(url="/admin/notifications/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("healthchecks.urls")),
    path("", include("oncall.urls")),
]
