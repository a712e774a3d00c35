"""Raw samples of closed hours as one row per series and hour (``SampleBlock``).

The table is created empty: the rows already in ``metrics_metricsample`` stay there and
are folded into blocks by the compaction job over its next runs (``metrics.samples``),
oldest hour first, so an upgrade moves no data while it migrates. Readers read both
tables meanwhile.

On PostgreSQL the table is partitioned by range of ``hour``, one partition per UTC day,
so retention drops a day's partition instead of deleting rows; the partitions of the
last retention period and the next days are created here, later ones by the job.
On SQLite it is an ordinary table.
"""

from datetime import UTC, datetime, timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import metrics.models

TABLE = "metrics_sampleblock"

CREATE_PARTITIONED = f"""
CREATE TABLE {TABLE} (
    hour timestamp with time zone NOT NULL,
    host_id integer NOT NULL
        REFERENCES metrics_host (id) DEFERRABLE INITIALLY DEFERRED,
    metric_id integer NOT NULL
        REFERENCES metrics_metric (id) DEFERRABLE INITIALLY DEFERRED,
    offsets smallint[] NOT NULL,
    readings real[] NOT NULL,
    PRIMARY KEY (host_id, metric_id, hour)
) PARTITION BY RANGE (hour)
"""


def create_table(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.create_model(apps.get_model("metrics", "SampleBlock"))
        return
    schema_editor.execute(CREATE_PARTITIONED)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=settings.METRICS_RETENTION_DAYS + 1)
    for n in range((today - first).days + 3):
        day = first + timedelta(days=n)
        schema_editor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} "
            f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
        )


def drop_table(apps, schema_editor):
    # Dropping the partitioned table drops its partitions.
    schema_editor.execute(f"DROP TABLE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0004_process_sample_name_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SampleBlock",
                    fields=[
                        ("hour", models.DateTimeField()),
                        ("offsets", metrics.models.NumberArrayField(element_type="smallint")),
                        ("readings", metrics.models.NumberArrayField(element_type="real")),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "host",
                                "metric",
                                "hour",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        (
                            "host",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="metrics.host",
                            ),
                        ),
                        (
                            "metric",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                to="metrics.metric",
                            ),
                        ),
                    ],
                    options={"verbose_name": "sample block"},
                ),
            ],
        ),
        migrations.RunPython(create_table, drop_table),
    ]
