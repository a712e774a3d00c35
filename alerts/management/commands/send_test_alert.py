from django.core.management.base import BaseCommand, CommandError

from alerts.constants import parse_severity
from alerts.service import AlertService
from alerts.spec import AlertSpec


class Command(BaseCommand):
    help = "Raise a test alert, to check routing and the live console end to end."

    def add_arguments(self, parser):
        parser.add_argument("--severity", default="warning", help="info, warning, error, critical")
        parser.add_argument("--resource", default="opsconsole", help="what it is about")
        parser.add_argument("--message", default="This is a test alert; resolve it at will.")

    def handle(self, *args, severity, resource, message, **options):
        try:
            chosen = parse_severity(severity)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        alert = AlertService().create_alert(
            AlertSpec(
                alert_type="test_alert",
                title=f"Test alert ({chosen}) - {resource}",
                message=message,
                priority=chosen,
                category="system",
                resource=resource,
                recommendations=["Nothing to fix: acknowledge or resolve it."],
            ),
            actor="send_test_alert",
        )
        self.stdout.write(
            f"alert #{alert.pk} {alert.title}: {alert.status}, "
            f"seen {alert.notification_count} time(s)"
        )
