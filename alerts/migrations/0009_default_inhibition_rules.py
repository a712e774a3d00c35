"""The default inhibition rules for consoles that already run (a fresh console gets them
from its first-run defaults, ``alerts.inhibition.load_default_rules``).

The rules are written out here rather than imported, so later edits of the defaults do
not change what this migration did."""

from django.db import migrations

DEFAULTS = [
    {
        "name": "Critical beats warning and info on the same resource",
        "source_matchers": [{"field": "severity", "op": "eq", "value": "critical"}],
        "target_matchers": [{"field": "severity", "op": "regex", "value": "warning|info"}],
        "equal": ["resource"],
        "description": "While a critical alert is open, warning and info alerts of the "
        "same resource are held back: one page for one problem.",
    },
    {
        "name": "A host not reporting holds back its other alerts",
        "source_matchers": [{"field": "rule_kind", "op": "regex", "value": "absence|no_data"}],
        "target_matchers": [],
        "equal": ["resource"],
        "description": "While a host sends no data (an absence rule, or a firing rule's "
        "data stopped), every other alert about that host is held back.",
    },
]


def seed(apps, schema_editor):
    InhibitionRule = apps.get_model("alerts", "InhibitionRule")
    Alert = apps.get_model("alerts", "Alert")
    AlertRule = apps.get_model("alerts", "AlertRule")
    # Only a console in use: an empty database is a fresh one (or a test run), whose
    # first start loads the defaults.
    if InhibitionRule.objects.exists():
        return
    if not (Alert.objects.exists() or AlertRule.objects.exists()):
        return
    for rule in DEFAULTS:
        InhibitionRule.objects.create(**rule)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0008_inhibition_rules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
