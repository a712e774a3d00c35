"""The policies every alert passes, whatever raised it: silences (one-off or weekly
maintenance windows), inhibition (another open alert makes this one noise: see
``alerts.inhibition``) and dependencies (what this alert's problem depends on is down).

``hold_for(fields, at)`` is the one question the pipeline asks: does a policy hold this
alert back now, and why? An alert held back is stored as suppressed, with the reason
on its timeline, and sends nothing; ``reapply(now)`` (each evaluation pass) lets it go
once the policy no longer holds and it is still open (it is sent then), and holds back
open alerts that a new silence now covers.

Dependencies come from the apps that know them (the health checks know an endpoint's
parent): ``register_dependency(resolver)`` from an ``AppConfig.ready()``, where
``resolver(fields)`` returns why the alert is withheld ("parent database down") or None.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from alerts import inhibition, silences
from alerts.constants import DEPENDENCY_ACTOR, INHIBITION_ACTOR, POLICY_ACTORS, SILENCE_ACTOR
from alerts.matching import fields_of as fields_of  # read as policies.fields_of too
from alerts.models import Silence

logger = logging.getLogger(__name__)

__all__ = [
    "DEPENDENCY_ACTOR",
    "INHIBITION_ACTOR",
    "POLICY_ACTORS",
    "SILENCE_ACTOR",
    "Hold",
    "hold_for",
]


@dataclass(frozen=True)
class Hold:
    actor: str  # SILENCE_ACTOR, INHIBITION_ACTOR or DEPENDENCY_ACTOR
    reason: str
    until: datetime | None = None
    silence_id: int | None = None
    # Inhibition: the open alert that holds this one back, and the rule.
    inhibited_by: int | None = None
    source_title: str = ""
    rule_id: int | None = None
    rule_name: str = ""


Resolver = Callable[[dict[str, str]], "str | None"]
_dependencies: list[Resolver] = []


def register_dependency(resolver: Resolver) -> None:
    if resolver not in _dependencies:
        _dependencies.append(resolver)


def unregister_dependency(resolver: Resolver) -> None:
    if resolver in _dependencies:
        _dependencies.remove(resolver)


def hold_for(
    fields: dict[str, str],
    at: datetime,
    *,
    alert_id: int | None = None,
    inhibitions: inhibition.Index | None = None,
) -> Hold | None:
    """The policy that holds an alert with these fields back at ``at``, or None.

    A silence comes first: an operator's explicit word beats what the console infers;
    then inhibition (an open alert, by a rule an operator wrote), then dependencies.
    ``alert_id``: the alert asked about, if stored, which never inhibits itself;
    ``inhibitions``: a pass's own copy of the open sources.
    """
    silence = silences.matching(_silences_in_force(at), fields, at)
    if silence is not None:
        return Hold(
            SILENCE_ACTOR,
            f"silenced by silence #{silence.pk}: {silence.comment or 'no comment'}",
            until=silence.ends_at,
            silence_id=silence.pk,
        )
    try:
        inhibitor = inhibition.hold_at(fields, at, alert_id, inhibitions)
    except Exception:
        # Like a broken resolver: the alert is sent rather than lost.
        logger.exception("inhibition could not be judged")
        inhibitor = None
    if inhibitor is not None:
        return Hold(
            INHIBITION_ACTOR,
            inhibitor.reason,
            inhibited_by=inhibitor.source.id,
            source_title=inhibitor.source.title,
            rule_id=inhibitor.rule.pk,
            rule_name=inhibitor.rule.name,
        )
    for resolver in _dependencies:
        try:
            reason = resolver(fields)
        except Exception:
            # One broken resolver must not stop alerts: the alert is sent.
            logger.exception("dependency resolver %r failed", resolver)
            continue
        if reason:
            return Hold(DEPENDENCY_ACTOR, f"withheld: {reason}")
    return None


def any_silence_in_force(at: datetime) -> bool:
    return bool(_silences_in_force(at))


# -- silences in force, per process ------------------------------------------------------
_cache_lock = threading.Lock()
_cached: tuple[float, datetime, list[Silence]] | None = None


def _silences_in_force(at: datetime) -> list[Silence]:
    global _cached
    now = time.monotonic()
    with _cache_lock:
        cached = _cached if settings.CONFIG_CACHE_SECONDS else None
    # The copy serves only the moment it was read for (within the cache's life): a pass
    # judging another time (a backfill, a test) reads afresh.
    if (
        cached is not None
        and now - cached[0] < settings.CONFIG_CACHE_SECONDS
        and abs((at - cached[1]).total_seconds()) < settings.CONFIG_CACHE_SECONDS
    ):
        return cached[2]
    found = list(Silence.objects.in_force(at))
    with _cache_lock:
        _cached = (now, at, found)
    return found


def forget_silences(**kwargs) -> None:
    global _cached
    with _cache_lock:
        _cached = None


post_save.connect(forget_silences, sender=Silence, dispatch_uid="policies.silence_saved")
post_delete.connect(forget_silences, sender=Silence, dispatch_uid="policies.silence_deleted")
