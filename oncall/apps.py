from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On call"

    def ready(self):
        from django.conf import settings

        from alerts.decisions import register_source
        from alerts.signals import alert_transition
        from notifications.gaps import register_people_check
        from notifications.notifiers.message import register_personalizer
        from oncall import decisions, escalation, lint, people
        from oncall.panels import alert_panel
        from opsconsole.panels import register_panel
        from opsconsole.ticker import register_job

        # Messages to a person: the Slack mention, a verification code, and the
        # Acknowledge / Resolve links, added at send time.
        register_personalizer(people.personalize)
        # Inside the alert's transaction, like the outbox: an escalation starts, stops
        # or is held with the change that caused it.
        alert_transition.connect(escalation.on_transition, dispatch_uid="oncall.escalate")
        register_job(
            "oncall.escalate",
            "oncall.tasks.escalate",
            lambda: settings.ONCALL_TICK_SECONDS,
            args=escalation.due_args,
        )
        register_source(decisions.decisions)
        # A severity whose routing pages on-call people of whom nobody can be reached
        # is a routing gap (the alerts page, the routing rules, /api/v1/status).
        register_people_check(lint.people_check)
        register_panel("alert_detail", alert_panel)
        from oncall.configcode import PoliciesSection, SchedulesSection
        from opsconsole.configcode import register_section

        # After notifications' channels and routing: a policy may name what they create.
        register_section(SchedulesSection())
        register_section(PoliciesSection())
