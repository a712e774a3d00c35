from __future__ import annotations

from datetime import datetime

from django.test import TestCase

from metrics.ingest import Batch, ingest


def store(host: str, series: dict[str, list[tuple[datetime, float]]], processes=None):
    """Ingest {series key: [(time, value), ...]} for one host through the real path.

    Tests run inside a transaction that never commits, so the after-commit work (latest
    cache, live event, evaluator hook) is run explicitly as a commit would run it.
    """
    samples = [(key, value, at) for key, points in series.items() for at, value in points]
    with TestCase.captureOnCommitCallbacks(execute=True):
        return ingest(Batch(hostname=host, samples=samples, processes=processes or []))
