"""The "samples newer/older than T" index, by database.

PostgreSQL: BRIN, a few pages whatever the table size, because samples arrive in time
order. Used by the evaluator (recent window, every host) and retention (older than).
SQLite has no BRIN: a plain B-tree on time.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX metricsample_time_brin ON metrics_metricsample "
            "USING brin (time) WITH (pages_per_range = 16)"
        )
    else:
        schema_editor.execute(
            "CREATE INDEX metricsample_time_brin ON metrics_metricsample (time)"
        )


def drop(apps, schema_editor):
    schema_editor.execute("DROP INDEX metricsample_time_brin")


class Migration(migrations.Migration):
    dependencies = [("metrics", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
