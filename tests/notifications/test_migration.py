"""Upgrading a console whose channels, routing rules and outbox belonged to the alerts
app: every row, permission and audit label comes along, and no table is rebuilt."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

# oncall builds on notifications: it is taken back with it.
BEFORE = [("alerts", "0005_channel_secret_refs"), ("notifications", None), ("oncall", None)]


def _migrate(targets):
    """Migrate to ``targets``; the apps as they stand there (apps not named: their
    latest migration)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    named = {app for app, _name in targets}
    nodes = [n for n in executor.loader.graph.leaf_nodes() if n[0] not in named]
    nodes += [(app, name) for app, name in targets if name is not None]
    return executor.loader.project_state(nodes).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def old_console():
    """A console as the alerts app left it, with a channel, a rule, a message, a group
    allowed to edit channels and an audit entry about the channel."""
    old = _migrate(BEFORE)
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    Group = old.get_model("auth", "Group")
    Channel = old.get_model("alerts", "NotificationChannel")
    Rule = old.get_model("alerts", "RoutingRule")
    Notification = old.get_model("alerts", "Notification")
    AuditEntry = old.get_model("opsconsole", "AuditEntry")
    channel = Channel.objects.create(name="ops-slack", kind="slack", secrets={"webhook_url": "x"})
    rule = Rule.objects.create(name="db team", severities=["critical"])
    rule.channels.add(channel)
    from django.utils import timezone

    Notification.objects.create(
        channel=channel,
        transition="firing",
        idempotency_key="k1",
        status="pending",
        next_attempt_at=timezone.now(),
        context={"severity": "critical"},
    )
    content_type, _ = ContentType.objects.get_or_create(
        app_label="alerts", model="notificationchannel"
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="change_notificationchannel",
        defaults={"name": "Can change notification channel"},
    )
    group = Group.objects.create(name="Channel editors")
    group.permissions.add(permission)
    AuditEntry.objects.create(
        kind="config_change",
        summary="ops-slack created",
        object_type="alerts.notificationchannel",
        object_id=str(channel.pk),
    )
    yield channel.pk
    _migrate(_latest())


def _check_upgraded(channel_pk):
    from django.contrib.auth.models import Group

    from notifications.models import Notification, NotificationChannel, RoutingRule
    from opsconsole.models import AuditEntry

    channel = NotificationChannel.objects.get(pk=channel_pk)
    assert channel.name == "ops-slack" and channel.secrets == {"webhook_url": "x"}
    assert list(RoutingRule.objects.get(name="db team").channels.all()) == [channel]
    waiting = Notification.objects.get(idempotency_key="k1")
    assert waiting.urgency == 0  # no alert: nothing to rank it by
    group = Group.objects.get(name="Channel editors")
    labels = {(p.content_type.app_label, p.codename) for p in group.permissions.all()}
    assert labels == {("notifications", "change_notificationchannel")}
    assert AuditEntry.objects.get(summary="ops-slack created").object_type == (
        "notifications.notificationchannel"
    )


def test_an_upgrade_keeps_every_row_permission_and_audit_label(old_console):
    _migrate(_latest())
    _check_upgraded(old_console)


def test_an_upgrade_after_a_partial_migrate_keeps_the_permissions_too(old_console):
    from django.contrib.contenttypes.models import ContentType

    # A partial `migrate` ran Django's post-migrate step, which made the new content
    # type before the models were handed over.
    ContentType.objects.get_or_create(app_label="notifications", model="notificationchannel")
    _migrate(_latest())
    _check_upgraded(old_console)
