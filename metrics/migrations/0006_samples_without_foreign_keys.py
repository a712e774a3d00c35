"""The narrow sample tables lose their foreign-key constraints on PostgreSQL.

Checking both keys of every sample row was the largest part of a 50-sample batch's
write (about 0.5 ms of 2), more than the rows themselves. The ingest path guards the
host itself instead, in the same statement (``metrics.ingest._write_arrays``: the
samples are written only if every host of the request still exists, whose row the
statement locks by moving its ``last_seen``), and metric ids are kept per process only
for one generation of the metric catalog (a deleted metric bumps it). Roll-ups and
compaction leave out any row whose host or metric is gone, so a row written in the
moment a host was deleted never reaches a table that keeps its foreign keys.

Django's ``on_delete`` (CASCADE for hosts, PROTECT for metrics) is unchanged: it is
applied by the ORM, not by the constraint.

Dropping a constraint rewrites nothing, so the upgrade moves no data. SQLite keeps its
constraints in the table as they are (changing them would copy the whole table): the
embedded console stores with its transaction and reads a failed key as before.
"""

from django.db import migrations, models

import django.db.models.deletion

# (table, column, referenced table)
KEYS = [
    ("metrics_metricsample", "host_id", "metrics_host"),
    ("metrics_metricsample", "metric_id", "metrics_metric"),
    ("metrics_processsample", "host_id", "metrics_host"),
]


def _constraints(schema_editor, table: str, column: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["foreign_key"] and info["columns"] == [column]
    ]


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, _target in KEYS:
        for name in _constraints(schema_editor, table, column):
            schema_editor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, target in KEYS:
        if _constraints(schema_editor, table, column):
            continue
        # Rows whose host or metric is gone would fail the constraint: they are the
        # ones roll-ups and compaction never read.
        schema_editor.execute(
            f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM {target})"
        )
        schema_editor.execute(
            f'ALTER TABLE {table} ADD CONSTRAINT "{table}_{column}_fk" FOREIGN KEY ({column}) '
            f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
        )


def _unconstrained(model: str, name: str, target: str, on_delete):
    return migrations.AlterField(
        model_name=model,
        name=name,
        field=models.ForeignKey(
            db_constraint=False, db_index=False, on_delete=on_delete, to=target
        ),
    )


class Migration(migrations.Migration):
    dependencies = [("metrics", "0005_sample_blocks")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, restore)],
            state_operations=[
                _unconstrained(
                    "metricsample", "host", "metrics.host", django.db.models.deletion.CASCADE
                ),
                _unconstrained(
                    "metricsample", "metric", "metrics.metric", django.db.models.deletion.PROTECT
                ),
                _unconstrained(
                    "processsample", "host", "metrics.host", django.db.models.deletion.CASCADE
                ),
            ],
        )
    ]
