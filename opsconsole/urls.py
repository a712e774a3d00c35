from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from metrics import views as metrics_views
from opsconsole.api import api
from opsconsole.views import plain_health

urlpatterns = [
    path("", metrics_views.system_monitor, name="system_monitor"),
    path("system/<int:host_id>/vitals/", metrics_views.vitals_partial, name="vitals_partial"),
    path("system/<int:host_id>/charts/", metrics_views.charts_partial, name="charts_partial"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health", plain_health, name="plain_health"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("healthchecks.urls")),
]
