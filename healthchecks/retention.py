"""Old check results are rolled up into hourly summaries, then pruned in batches."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from healthchecks.constants import Outcome
from healthchecks.models import CheckResult, HourlyCheckSummary, LatencySample

BATCH = 5000


def run_retention(now=None) -> dict[str, int]:
    now = now or timezone.now()
    # Whole hours only: a summary is written once, from every result of its hour.
    cutoff = (now - timedelta(days=settings.HEALTH_RESULT_RETENTION_DAYS)).replace(
        minute=0, second=0, microsecond=0
    )
    old = CheckResult.objects.filter(time__lt=cutoff)
    summaries = (
        old.annotate(hour=TruncHour("time"))
        .values("endpoint_id", "hour")
        .annotate(
            checks=Count("id"),
            failures=Count("id", filter=Q(outcome=Outcome.FAIL)),
            avg_ms=Avg("response_ms"),
            max_ms=Max("response_ms"),
        )
    )
    rolled = 0
    with transaction.atomic():
        for row in summaries.iterator():
            HourlyCheckSummary.objects.update_or_create(
                endpoint_id=row["endpoint_id"],
                hour=row["hour"],
                defaults={
                    "checks": row["checks"],
                    "failures": row["failures"],
                    "avg_response_ms": row["avg_ms"],
                    "max_response_ms": row["max_ms"],
                },
            )
            rolled += 1
    pruned = _delete_in_batches(CheckResult, cutoff)
    latency_cutoff = now - timedelta(days=settings.LATENCY_RETENTION_DAYS)
    latency = _delete_in_batches(LatencySample, latency_cutoff)
    return {"hours_rolled_up": rolled, "results_pruned": pruned, "latency_pruned": latency}


def _delete_in_batches(model, cutoff) -> int:
    total = 0
    while True:
        ids = list(model.objects.filter(time__lt=cutoff).values_list("id", flat=True)[:BATCH])
        if not ids:
            return total
        total += model.objects.filter(id__in=ids).delete()[0]
