"""A webhook's extra headers move from ``config`` to ``secrets``.

``config`` is returned to every viewer by the API and written inline by
``export_config``; an ``Authorization`` header there was readable by anyone with the
viewer role. The values are moved, not copied, so one place holds them and the
notifier reads only that place; nothing is lost: headers already in ``secrets`` (none
before this migration) win over a stale copy in ``config``. Reversible.
"""

from django.db import migrations


def move(apps, schema_editor, *, source: str, target: str):
    NotificationChannel = apps.get_model("notifications", "NotificationChannel")
    channels = NotificationChannel.objects.using(schema_editor.connection.alias)
    for channel in channels.filter(kind="webhook"):
        given = getattr(channel, source) or {}
        headers = given.get("headers")
        if not isinstance(headers, dict):
            continue
        kept = getattr(channel, target) or {}
        moved_from = {k: v for k, v in given.items() if k != "headers"}
        moved_to = {**kept, "headers": {**headers, **(kept.get("headers") or {})}}
        if not moved_to["headers"]:
            moved_to.pop("headers")
        # A queryset update: no auto_now, no audit entry for a change nobody made.
        channels.filter(pk=channel.pk).update(**{source: moved_from, target: moved_to})


def to_secrets(apps, schema_editor):
    move(apps, schema_editor, source="config", target="secrets")


def to_config(apps, schema_editor):
    move(apps, schema_editor, source="secrets", target="config")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_urgency"),
    ]

    operations = [migrations.RunPython(to_secrets, to_config)]
