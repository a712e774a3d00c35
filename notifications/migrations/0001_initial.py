"""Channels, routing rules and the outbox move here from the alerts app.

The tables stay where they are, under their old names (each model's ``db_table``):
this migration changes Django's record of which app owns them and, in the database,
only the names that point at them: content types (so permissions already granted on
these models still hold) and the audit stream's object labels. The alerts app's
0006 removes them from its own record first.
"""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ("notificationchannel", "routingrule", "notification")


def rename_content_types(apps, schema_editor, old="alerts", new="notifications"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    AuditEntry = apps.get_model("opsconsole", "AuditEntry")
    db = schema_editor.connection.alias
    for model in MODELS:
        before = ContentType.objects.using(db).filter(app_label=old, model=model).first()
        after = ContentType.objects.using(db).filter(app_label=new, model=model).first()
        if before is not None and after is None:
            before.app_label = new
            before.save(update_fields=["app_label"])
        elif before is not None:
            # Both exist (an earlier partial migrate made the new one): the groups and
            # people who held a permission on the old keep it on the new.
            for permission in Permission.objects.using(db).filter(content_type=before):
                moved, _ = Permission.objects.using(db).get_or_create(
                    content_type=after,
                    codename=permission.codename,
                    defaults={"name": permission.name},
                )
                moved.group_set.add(*permission.group_set.all())
                moved.user_set.add(*permission.user_set.all())
            before.delete()
        # The audit stream names objects by label: a channel's history stays one history.
        AuditEntry.objects.using(db).filter(object_type=f"{old}.{model}").update(
            object_type=f"{new}.{model}"
        )


def restore_content_types(apps, schema_editor):
    rename_content_types(apps, schema_editor, old="notifications", new="alerts")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('alerts', '0006_notifications_moved'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('opsconsole', '0004_audit_delivery_failed'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='NotificationChannel',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True)),
                        ('kind', models.CharField(choices=[('slack', 'Slack (incoming webhook)'), ('email', 'Email'), ('sms', 'SMS (Twilio)'), ('pagerduty', 'PagerDuty (Events API v2)'), ('discord', 'Discord (webhook)'), ('telegram', 'Telegram (bot)'), ('webhook', 'Webhook (signed JSON)'), ('dashboard', 'Dashboard (live in the console)'), ('apprise', 'Apprise URL (Teams, Matrix, ...)')], max_length=12)),
                        ('config', models.JSONField(blank=True, default=dict)),
                        ('secrets', models.JSONField(blank=True, default=dict)),
                        ('secret_refs', models.JSONField(blank=True, default=dict, editable=False)),
                        ('min_severity', models.CharField(choices=[('info', 'Info'), ('warning', 'Warning'), ('error', 'Error'), ('critical', 'Critical')], default='info', max_length=10)),
                        ('enabled', models.BooleanField(default=True)),
                        ('send_resolved', models.BooleanField(default=True)),
                        ('rate_limit_per_minute', models.PositiveIntegerField(blank=True, help_text="Blank: the kind's default (Slack 60, PagerDuty 120).", null=True)),
                        ('consecutive_failures', models.PositiveIntegerField(default=0)),
                        ('circuit_open_until', models.DateTimeField(blank=True, null=True)),
                        ('next_send_at', models.DateTimeField(blank=True, null=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'alerts_notificationchannel',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='RoutingRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True)),
                        ('position', models.PositiveIntegerField(default=100)),
                        ('enabled', models.BooleanField(default=True)),
                        ('severities', models.JSONField(blank=True, default=list, help_text='Any of info, warning, error, critical; [] = all.')),
                        ('categories', models.JSONField(blank=True, default=list, help_text='Any of system, database, application, performance, security, business, availability; [] = all.')),
                        ('label_matchers', models.JSONField(blank=True, default=dict, help_text='Every label must equal: {"team": "db"}.')),
                        ('channel_kinds', models.JSONField(blank=True, default=list, help_text='Every enabled channel of these kinds.')),
                        ('all_channels', models.BooleanField(default=False, help_text='Every enabled channel.')),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                        ('channels', models.ManyToManyField(blank=True, db_table='alerts_routingrule_channels', related_name='routes', to='notifications.notificationchannel')),
                    ],
                    options={
                        'db_table': 'alerts_routingrule',
                        'ordering': ['position', 'name'],
                    },
                ),
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('transition', models.CharField(choices=[('firing', 'Firing'), ('repeat', 'Still firing (repeat)'), ('escalated', 'Escalated'), ('resolved', 'Resolved'), ('test', 'Test message')], max_length=10)),
                        ('idempotency_key', models.CharField(max_length=120, unique=True)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('retrying', 'Retrying'), ('failed', 'Failed (permanent)'), ('dead', 'Dead letter (retries exhausted)'), ('cancelled', 'Cancelled (no longer relevant)')], default='pending', max_length=10)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField()),
                        ('enqueued_at', models.DateTimeField(blank=True, null=True)),
                        ('lease_until', models.DateTimeField(blank=True, null=True)),
                        ('claim_token', models.UUIDField(blank=True, editable=False, null=True)),
                        ('last_error', models.TextField(blank=True)),
                        ('response_code', models.PositiveIntegerField(blank=True, null=True)),
                        ('context', models.JSONField(blank=True, default=dict)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('alert', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='alerts.alert')),
                        ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='notifications.notificationchannel')),
                    ],
                    options={
                        'db_table': 'alerts_notification',
                        'ordering': ['-created', '-id'],
                        'indexes': [models.Index(condition=models.Q(('status__in', ['pending', 'retrying'])), fields=['next_attempt_at'], name='notification_due'), models.Index(condition=models.Q(('status', 'sending')), fields=['lease_until'], name='notification_leased'), models.Index(fields=['alert', 'channel', 'transition'], name='notification_alert'), models.Index(fields=['channel', '-created'], name='notification_channel_log'), models.Index(fields=['status', '-created'], name='notification_status_log')],
                    },
                ),
    
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_types, restore_content_types),
    ]
