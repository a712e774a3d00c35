from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from alerts.signals import alert_transition
        from notifications import delivery, exposition, outbox, routing
        from notifications.configcode import ChannelsSection, RoutingSection
        from notifications.panels import DELIVERIES_GROUP, deliveries_panel, render_live
        from opsconsole.configcode import register_section
        from opsconsole.exposition import register_series
        from opsconsole.grafana import register_panel as register_grafana_panel
        from opsconsole.panels import register_live_panel, register_panel
        from opsconsole.ticker import register_job

        # With NOTIFY_INLINE (tests, scripts) the outbox sends committed rows itself.
        outbox.send_inline_with(delivery.deliver_batch)
        # Inside the alert's transaction: the outbox rows commit or roll back with it.
        alert_transition.connect(routing.on_transition, dispatch_uid="notifications.route")
        register_series("notifications", exposition.notification_series)
        for panel in exposition.grafana_panels():
            register_grafana_panel(panel)
        register_section(ChannelsSection())
        register_section(RoutingSection())
        from opsconsole.bootstrap import register_defaults

        register_defaults("notifications.routes", routing.load_default_routes)
        register_panel("alert_detail", deliveries_panel)
        from notifications import gaps
        from opsconsole.panels import register_warnings

        register_panel("alert_list", gaps.alert_list_panel)
        register_warnings(gaps.warnings)
        from alerts.decisions import register_source
        from notifications.decisions import decisions

        register_source(decisions)
        register_live_panel("alert_detail", DELIVERIES_GROUP, render_live)
        from notifications import watch

        register_job(
            "notifications.watch",
            "notifications.tasks.watch_lane",
            watch.stall_interval,
            args=watch.watch_args,
        )
