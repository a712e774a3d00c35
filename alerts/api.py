"""Seed 002's alert and alert-rule endpoints under /api/v1/.

Viewers read; responders raise, acknowledge, resolve and suppress alerts and trigger a
check; admins edit rules. A rule's body is typed per kind (``alerts.schema``) and
validated by the same form as the admin, and seed 002's JSON rule shape
(``rule_type``, ``condition``, ``cooldown_minutes``) is accepted as it is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from ninja import Body, Query, Router, Status
from ninja.errors import HttpError

from alerts import preview, rule_templates
from alerts.configcode import RulesSection
from alerts.constants import OPEN_STATUSES, parse_severity
from alerts.decisions import decisions_of
from alerts.evaluator import evaluate
from alerts.filtering import SEVERITY_ORDER
from alerts.forms import AlertRuleForm, InhibitionRuleForm, SilenceForm
from alerts.models import Alert, AlertRule, InhibitionRule, Silence
from alerts.rule_templates import RuleTemplate
from alerts.schema import (
    AlertActionIn,
    AlertDetailOut,
    AlertFilters,
    AlertIn,
    AlertPage,
    CheckOut,
    DecisionsOut,
    InhibitionIn,
    InhibitionOut,
    InhibitionPatch,
    PreviewOut,
    RuleIn,
    RuleOut,
    RulePatch,
    RuleTemplateOut,
    SilenceIn,
    SilenceOut,
    SilencePatch,
    StatsOut,
    rule_changes,
)
from alerts.service import AlertService, AlertStateError
from alerts.spec import AlertSpec
from opsconsole.apitools import ById, RowId, answers, as_form_data, one_or_404, valid_or_422
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    from opsconsole.roles import SignedInRequest

router = Router(tags=["alerts"])
rules_router = Router(tags=["alert rules"])
RESPONDER = api_auth(Scope.WRITE, Role.RESPONDER)
ADMIN = api_auth(Scope.WRITE, Role.ADMIN)


@router.get(
    "",
    response=answers({200: AlertPage}, 422),
    auth=api_auth(),
    url_name="list_alerts",
)
def list_alerts(request: HttpRequest, filters: Query[AlertFilters]) -> dict[str, Any]:
    """Alerts, most severe and newest first, filtered and paginated."""
    alerts = Alert.objects.filtered(filters.selection())
    ranked = alerts.most_severe_first()
    return {
        "count": alerts.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(ranked[filters.offset : filters.offset + filters.limit]),
    }


@router.post(
    "",
    response=answers({201: AlertDetailOut}, 413, 422),
    auth=RESPONDER,
    url_name="create_alert",
)
def create_alert(request: SignedInRequest, payload: AlertIn) -> Status[dict[str, Any]]:
    """Raise an alert (a repeat of an open one with the same type, resource and labels
    counts on it)."""
    fields = payload.dict()
    fields["priority"] = fields.pop("severity")
    try:
        alert = AlertService().create_alert(AlertSpec(**fields), actor=request.user.get_username())
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, _detail(alert))


@router.get("/stats", response=answers({200: StatsOut}), auth=api_auth(), url_name="alert_stats")
def alert_stats(request: HttpRequest) -> dict[str, Any]:
    """Open alerts by severity and status, and all alerts by status."""
    open_alerts = Alert.objects.filter(status__in=OPEN_STATUSES)
    return {
        "open": open_alerts.count(),
        "open_by_severity": {s: 0 for s in SEVERITY_ORDER}
        | dict(open_alerts.values_list("severity").annotate(n=Count("id")).order_by()),
        "by_status": dict(Alert.objects.values_list("status").annotate(n=Count("id")).order_by()),
    }


@router.get(
    "/patterns",
    response=answers({200: dict[str, Any]}, 422),
    auth=api_auth(),
    url_name="alert_patterns",
)
def alert_patterns(request: HttpRequest, days: int = Query(7, ge=1, le=365)) -> dict[str, Any]:
    """Seed 001's pattern analysis over the last ``days`` days."""
    return AlertService().get_alert_patterns(days=days)


@router.post(
    "/check",
    response=answers({200: CheckOut}),
    auth=RESPONDER,
    url_name="check_alerts",
)
def check_alerts(request: HttpRequest) -> dict[str, Any]:
    """Evaluate every enabled rule now, over every host's samples."""
    result = evaluate(full=True)
    return {
        "rules": result.rules,
        "targets": result.targets,
        "fired": result.fired,
        "resolved": result.resolved,
        "withheld": result.withheld,
        # Rules that could not be evaluated: each carries its reason (GET a rule's
        # broken_reason, or the admin's list); the other rules were evaluated.
        "broken": result.broken,
        "milliseconds": round(result.seconds * 1000, 1),
    }


@router.get(
    "/{alert_id}",
    response=answers({200: AlertDetailOut}, 404, 422),
    auth=api_auth(),
    url_name="get_alert",
)
def get_alert(request: HttpRequest, alert_id: RowId) -> dict[str, Any]:
    """One alert with its timeline (events, oldest first)."""
    return _detail(_alert(alert_id))


@router.get(
    "/{alert_id}/decisions",
    response=answers({200: DecisionsOut}, 404, 422),
    auth=api_auth(),
    url_name="alert_decisions",
)
def alert_decisions(request: HttpRequest, alert_id: RowId, channel: str = "") -> dict[str, Any]:
    """Why the alert was (or was not) sent: every decision about it in order (the rule
    that matched, policies, groups, routing rules taken and not, each delivery), then
    how routing and each channel stand now. ``channel`` (a name) keeps that channel's
    decisions and the ones that concern every channel."""
    alert = _alert(alert_id)
    found = decisions_of(alert)
    if channel:
        found = [d for d in found if d.channel in ("", channel)]
    return {"alert_id": alert.pk, "decisions": [d.as_dict() for d in found]}


@router.patch(
    "/{alert_id}",
    response=answers({200: AlertDetailOut}, 404, 409, 413, 422),
    auth=RESPONDER,
    url_name="update_alert",
)
def update_alert(
    request: SignedInRequest, alert_id: RowId, payload: AlertActionIn
) -> dict[str, Any]:
    """Acknowledge, resolve or suppress (for ``duration_hours``), with notes; 409 if the
    alert cannot make that change (e.g. resolving a resolved alert)."""
    alert = _alert(alert_id)
    who = request.user.get_username()
    service = AlertService()
    try:
        if payload.action == "acknowledge":
            service.acknowledge_alert(alert.pk, acknowledged_by=who, notes=payload.notes)
        elif payload.action == "resolve":
            service.resolve_alert(alert.pk, resolved_by=who, resolution_notes=payload.notes)
        else:
            if payload.duration_hours is None:
                raise HttpError(400, "suppress needs duration_hours")
            service.suppress_alert(
                alert.pk,
                suppressed_by=who,
                reason=payload.notes,
                duration_hours=payload.duration_hours,
            )
    except AlertStateError as exc:
        raise HttpError(409, str(exc)) from None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return _detail(_alert(alert_id))


def _alert(alert_id: int) -> Alert:
    return one_or_404(Alert, f"alert #{alert_id}", pk=alert_id)


def _detail(alert: Alert) -> dict[str, Any]:
    data = {
        field: getattr(alert, field) for field in AlertDetailOut.model_fields if field != "events"
    }
    data["events"] = list(alert.events.all())
    return data


# -- rules ----------------------------------------------------------------------------------


def _save_rule(rule: AlertRule, fields: dict[str, Any]) -> AlertRule:
    """Validate ``fields`` (the rule's, ``alerts.schema`` read the body) onto ``rule``
    (an unsaved one for a new rule) with the admin's form, and save it."""
    if isinstance(fields.get("aggregation"), str):
        fields["aggregation"] = fields["aggregation"].strip().lower()  # "P95" as seeds write it
    if "severity" in fields:
        try:
            fields["severity"] = parse_severity(fields["severity"]).value
        except ValueError as exc:
            raise HttpError(422, str(exc)) from None
    # A PATCH changes only what it names; a POST starts from the model's defaults.
    data = {**{f: getattr(rule, f) for f in AlertRuleForm.Meta.fields}, **fields}
    form = AlertRuleForm(data=as_form_data(data), instance=rule)
    return valid_or_422(form).save()


@rules_router.get(
    "", response=answers({200: list[RuleOut]}, 422), auth=api_auth(), url_name="list_alert_rules"
)
def list_alert_rules(
    request: HttpRequest, enabled: bool | None = None, kind: str | None = None
) -> QuerySet[AlertRule]:
    """Every rule, filtered by ``enabled`` and ``kind``."""
    rules = AlertRule.objects.all()
    if enabled is not None:
        rules = rules.filter(enabled=enabled)
    if kind:
        rules = rules.filter(kind=kind)
    return rules


@rules_router.post(
    "",
    response=answers({201: RuleOut}, 413, 422),
    auth=ADMIN,
    url_name="create_alert_rule",
)
def create_alert_rule(request: SignedInRequest, payload: Body[RuleIn]) -> Status[AlertRule]:
    """A rule of one kind (``kind``, system_metric by default), with the fields that kind
    reads, in this API's fields or seed 002's shape, validated like the admin's form
    (422 with every field's problem)."""
    rule = AlertRule()
    with RulesSection().change(rule, actor=request.user.get_username(), source="api"):
        _save_rule(rule, payload.rule_fields())
    return Status(201, rule)


def _template_out(template: RuleTemplate, rule: AlertRule | None) -> dict[str, Any]:
    return {
        "key": template.key,
        "name": template.name,
        "summary": template.summary,
        "fields": {k: str(v) if hasattr(v, "value") else v for k, v in template.fields.items()},
        "rule_id": rule.pk if rule else None,
        "enabled": bool(rule and rule.enabled),
    }


@rules_router.get(
    "/templates",
    response=answers({200: list[RuleTemplateOut]}),
    auth=api_auth(),
    url_name="list_rule_templates",
)
def list_rule_templates(request: HttpRequest) -> list[dict[str, Any]]:
    """Built-in rule templates (seed 003's domain rules over pushed metrics), off until
    enabled."""
    return [_template_out(t, rule_templates.status(t)) for t in rule_templates.TEMPLATES]


@rules_router.post(
    "/templates/{key}/enable",
    response=answers({200: RuleOut}, 404),
    auth=ADMIN,
    url_name="enable_rule_template",
)
def enable_rule_template(request: SignedInRequest, key: str) -> AlertRule:
    """Create the template's rule, enabled (or enable the rule of its name)."""
    if key not in rule_templates.BY_KEY:
        raise HttpError(404, f"no rule template {key!r}")
    rule, _ = rule_templates.enable(key, actor=request.user.get_username(), source="api")
    return rule


rule_item = ById(rules_router, "/{rule_id}", read=api_auth(), write=ADMIN)


@rule_item.get(RuleOut, url_name="get_alert_rule")
def get_alert_rule(request: HttpRequest, rule_id: RowId) -> AlertRule:
    """One rule; ``broken_reason`` says why the evaluator could not evaluate it."""
    return _rule(rule_id)


@rules_router.get(
    "/{rule_id}/preview",
    response=answers({200: PreviewOut}, 404, 422),
    auth=api_auth(),
    url_name="preview_alert_rule",
)
def preview_alert_rule(
    request: HttpRequest,
    rule_id: RowId,
    hours: int = Query(24, ge=1, le=preview.MAX_BACKTEST_HOURS),
) -> dict[str, Any]:
    """What the rule matches now, and how often it would have fired over the last
    ``hours`` of stored history (1-minute roll-ups for metric rules, process samples for
    process rules, check results for service rules), with its for, clear threshold and
    cooldown."""
    rule = _rule(rule_id)
    try:
        return {
            "rule": rule.pk,
            "now": preview.matches_now(rule),
            "backtest": preview.backtest(rule, hours),
        }
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None


@rule_item.patch(RuleOut, url_name="update_alert_rule")
def update_alert_rule(request: SignedInRequest, rule_id: RowId, payload: RulePatch) -> AlertRule:
    """Change the fields named (the others stay), validated like the admin's form; each
    must be one the rule's kind reads (or the kind the PATCH gives it)."""
    rule = _rule(rule_id)
    with RulesSection().change(rule, actor=request.user.get_username(), source="api"):
        _save_rule(rule, rule_changes(payload, rule))
    return rule


@rule_item.delete(url_name="delete_alert_rule")
def delete_alert_rule(request: SignedInRequest, rule_id: RowId) -> Status[None]:
    """Delete a rule; its alerts stay, unlinked, with their history."""
    rule = _rule(rule_id)
    with RulesSection().removal(rule, actor=request.user.get_username(), source="api"):
        rule.delete()
    return Status(204, None)


def _rule(rule_id: int) -> AlertRule:
    return one_or_404(AlertRule, f"alert rule #{rule_id}", pk=rule_id)


# -- silences -------------------------------------------------------------------------------
silences_router = Router(tags=["silences"])
silence_item = ById(silences_router, "/{silence_id}", read=api_auth(), write=RESPONDER)


def _save_silence(silence: Silence | None, data: dict[str, Any], user: User) -> Silence:
    form = SilenceForm(
        data={
            "matchers": json.dumps(data["matchers"]),
            "starts_at": data.get("starts_at") or timezone.now(),
            "ends_at": data["ends_at"],
            "recurrence": json.dumps(data.get("recurrence") or {}),
            "comment": data.get("comment") or "",
        },
        instance=silence,
    )
    saved = valid_or_422(form).save(commit=False)
    if silence is None:
        saved.created_by = user
    saved.save()
    return saved


@silences_router.get(
    "", response=answers({200: list[SilenceOut]}), auth=api_auth(), url_name="list_silences"
)
def list_silences(request: HttpRequest, state: str | None = None) -> QuerySet[Silence]:
    """Silences, newest first; ``state`` = pending, active or expired."""
    now = timezone.now()
    silences = Silence.objects.select_related("created_by").order_by("-starts_at")
    if state in Silence.STATES:
        silences = silences.in_state(state, now)
    elif state:
        raise HttpError(400, "state must be pending, active or expired")
    return silences[:500]


@silences_router.post(
    "",
    response=answers({201: SilenceOut}, 413, 422),
    auth=RESPONDER,
    url_name="create_silence",
)
def create_silence(request: SignedInRequest, payload: SilenceIn) -> Status[Silence]:
    """Silence the alerts every matcher matches from ``starts_at`` to ``ends_at``
    (optionally only within a weekly ``recurrence``)."""
    data = payload.dict(exclude_unset=True)
    data.setdefault("recurrence", {})
    return Status(201, _save_silence(None, data, request.user))


@silence_item.get(SilenceOut, url_name="get_silence")
def get_silence(request: HttpRequest, silence_id: RowId) -> Silence:
    """One silence with its state now."""
    return _silence(silence_id)


@silence_item.patch(SilenceOut, url_name="update_silence")
def update_silence(request: SignedInRequest, silence_id: RowId, payload: SilencePatch) -> Silence:
    """Change a silence; ``{"ends_at": "<now>"}`` ends it early."""
    silence = _silence(silence_id)
    current = {name: getattr(silence, name) for name in SilenceIn.model_fields}
    return _save_silence(silence, {**current, **payload.dict(exclude_unset=True)}, request.user)


@silence_item.delete(url_name="delete_silence")
def delete_silence(request: SignedInRequest, silence_id: RowId) -> Status[None]:
    """Delete a silence (ending it early keeps it on record instead)."""
    _silence(silence_id).delete()
    return Status(204, None)


def _silence(silence_id: int) -> Silence:
    silences = Silence.objects.select_related("created_by")
    return one_or_404(silences, f"silence #{silence_id}", pk=silence_id)


# -- inhibition rules -----------------------------------------------------------------------
inhibitions_router = Router(tags=["inhibitions"])
inhibition_item = ById(inhibitions_router, "/{rule_id}", read=api_auth(), write=ADMIN)


def _save_inhibition(rule: InhibitionRule | None, data: dict[str, Any]) -> InhibitionRule:
    # The admin's form, handed the lists themselves (its fields read lists or text).
    return valid_or_422(InhibitionRuleForm(data=data, instance=rule)).save()


@inhibitions_router.get(
    "",
    response=answers({200: list[InhibitionOut]}, 422),
    auth=api_auth(),
    url_name="list_inhibitions",
)
def list_inhibitions(request: HttpRequest, enabled: bool | None = None) -> QuerySet[InhibitionRule]:
    """Inhibition rules by name; ``enabled`` filters."""
    rules = InhibitionRule.objects.order_by("name")
    if enabled is not None:
        rules = rules.filter(enabled=enabled)
    return rules


@inhibitions_router.post(
    "",
    response=answers({201: InhibitionOut}, 413, 422),
    auth=ADMIN,
    url_name="create_inhibition",
)
def create_inhibition(request: HttpRequest, payload: InhibitionIn) -> Status[InhibitionRule]:
    """A new inhibition rule (admin): while an alert matching the source matchers is
    open, alerts matching the target matchers that share the ``equal`` fields are held."""
    return Status(201, _save_inhibition(None, payload.dict()))


@inhibition_item.get(InhibitionOut, url_name="get_inhibition")
def get_inhibition(request: HttpRequest, rule_id: RowId) -> InhibitionRule:
    """One inhibition rule."""
    return _inhibition(rule_id)


@inhibition_item.patch(InhibitionOut, url_name="update_inhibition")
def update_inhibition(
    request: HttpRequest, rule_id: RowId, payload: InhibitionPatch
) -> InhibitionRule:
    """Change the fields named; ``{"enabled": false}`` turns a rule off."""
    rule = _inhibition(rule_id)
    current = {name: getattr(rule, name) for name in InhibitionIn.model_fields}
    return _save_inhibition(rule, {**current, **payload.dict(exclude_unset=True)})


@inhibition_item.delete(url_name="delete_inhibition")
def delete_inhibition(request: HttpRequest, rule_id: RowId) -> Status[None]:
    """Delete an inhibition rule; alerts it held are let go at the next pass."""
    _inhibition(rule_id).delete()
    return Status(204, None)


def _inhibition(rule_id: int) -> InhibitionRule:
    return one_or_404(InhibitionRule, f"inhibition rule #{rule_id}", pk=rule_id)
