"""Channels, routing rules and the outbox now belong to the notifications app.

Only Django's record changes: the tables keep their names and rows (see
notifications/migrations/0001_initial.py, which takes the models over).
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0005_channel_secret_refs'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='Notification'),
                migrations.DeleteModel(name='RoutingRule'),
                migrations.DeleteModel(name='NotificationChannel'),
            ],
            database_operations=[],
        ),
    ]
