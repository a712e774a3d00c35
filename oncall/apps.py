from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On call"

    def ready(self):
        from notifications.notifiers.message import register_personalizer
        from oncall import people

        # Messages to a person: the Slack mention, a verification code, and the
        # Acknowledge / Resolve links, added at send time.
        register_personalizer(people.personalize)
