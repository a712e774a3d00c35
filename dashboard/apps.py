from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """What wallboards and scripts read across the apps: the dashboard overview, the
    vitals widget, the audit stream's API and the public status. It imports the apps
    whose data it shows; no app imports it."""

    name = "dashboard"
    verbose_name = "Dashboard"
