"""People, schedules and escalation policies under /api/v1/.

Viewers read schedules, who is on call and policies; a person's contact methods and
notification rules are theirs: responders manage their own, admins anyone's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.db.models import Model, ProtectedError
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import HttpError

from notifications.models import NotificationChannel
from oncall import editing, people, schedules
from oncall.models import (
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    NotificationRule,
    Override,
    Schedule,
    Urgency,
)
from oncall.schema import (
    AtQuery,
    CodeIn,
    ContactMethodIn,
    ContactMethodOut,
    NotificationRuleIn,
    NotificationRuleOut,
    OnCallOut,
    Outcome,
    OverrideIn,
    OverrideOut,
    PersonOut,
    PolicyIn,
    PolicyOut,
    PolicyPatch,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
)
from opsconsole.apitools import ById, RowId, answers, one_or_404
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    from oncall.schedules import ScheduleView, Shift
    from opsconsole.roles import SignedInRequest

Row = TypeVar("Row", bound=Model)

people_router = Router(tags=["people"])
schedules_router = Router(tags=["schedules"])
policies_router = Router(tags=["escalation policies"])

READ = api_auth()
WRITE = api_auth(Scope.WRITE, Role.RESPONDER)
ADMIN = api_auth(Scope.WRITE, Role.ADMIN)


def _person(person_id: int) -> User:
    return one_or_404(get_user_model(), "person", pk=person_id, is_active=True)


def _saved(
    save: Callable[[dict[str, Any], Row | None], Row],
    data: dict[str, Any],
    instance: Row | None,
    what: str,
) -> Row:
    """``save(data, instance)`` with its refusals as the API's answers."""
    try:
        return save(data, instance)
    except editing.EditError as exc:
        raise HttpError(422, str(exc)) from None
    except IntegrityError:
        raise HttpError(409, f"a {what} named {data.get('name')!r} exists already") from None


def _own_or_admin(request: SignedInRequest, person_id: int) -> User:
    """A person's own records: theirs (responders and up) or an admin's to manage."""
    person = _person(person_id)
    if request.user.pk != person.pk and not has_role(request.user, Role.ADMIN):
        raise HttpError(403, "only admins manage other people's contact methods and rules")
    return person


# -- people ---------------------------------------------------------------------------------


@people_router.get("", response=answers({200: list[PersonOut]}), auth=READ, url_name="list_people")
def list_people(request: HttpRequest) -> list[dict[str, Any]]:
    """Console users who can be paged, with whether anybody could reach them."""
    users = list(get_user_model().objects.filter(is_active=True).order_by("username"))
    reachable = people.reachable_ids(u.pk for u in users)
    return [
        {
            "id": u.pk,
            "username": u.get_username(),
            "name": u.get_full_name() or u.get_username(),
            "reachable": u.pk in reachable,
        }
        for u in users
    ]


@people_router.get(
    "/{person_id}/contact-methods",
    response=answers({200: list[ContactMethodOut]}, 404, 422),
    auth=WRITE,
    url_name="list_contact_methods",
)
def list_contact_methods(request: SignedInRequest, person_id: RowId) -> list[ContactMethod]:
    """A person's contact methods (email, phone, Slack member, Telegram chat) and
    whether each is verified."""
    return list(_own_or_admin(request, person_id).contact_methods.all())


@people_router.post(
    "/{person_id}/contact-methods",
    response=answers({201: ContactMethodOut}, 404, 409, 413, 422),
    auth=WRITE,
    url_name="create_contact_method",
)
def create_contact_method(
    request: SignedInRequest, person_id: RowId, payload: ContactMethodIn
) -> Status[ContactMethod]:
    """Add a contact method; it is used once verified with the code a test message carries."""
    person = _own_or_admin(request, person_id)
    if payload.kind not in ContactKind.values:
        raise HttpError(422, f"kind must be one of: {', '.join(ContactKind.values)}")
    address = payload.address.strip()
    problem = people.address_problem(payload.kind, address)
    if problem:
        raise HttpError(422, problem)
    channel = None
    if payload.channel_id is not None:
        channel = one_or_404(NotificationChannel, "channel", pk=payload.channel_id)
        if channel.kind != people.CHANNEL_KIND[ContactKind(payload.kind)]:
            raise HttpError(422, f"channel {channel.name} cannot send to a {payload.kind}")
    try:
        method = ContactMethod.objects.create(
            user=person, kind=payload.kind, address=address, label=payload.label, channel=channel
        )
    except IntegrityError:
        raise HttpError(409, "this contact method exists already") from None
    return Status(201, method)


def _method(request: SignedInRequest, person_id: int, method_id: int) -> ContactMethod:
    person = _own_or_admin(request, person_id)
    return one_or_404(ContactMethod, "contact method", pk=method_id, user=person)


@people_router.delete(
    "/{person_id}/contact-methods/{method_id}",
    response=answers({204: None}, 404, 422),
    auth=WRITE,
    url_name="delete_contact_method",
)
def delete_contact_method(
    request: SignedInRequest, person_id: RowId, method_id: RowId
) -> Status[None]:
    """Remove a contact method."""
    _method(request, person_id, method_id).delete()
    return Status(204, None)


@people_router.post(
    "/{person_id}/contact-methods/{method_id}/test",
    response=answers({200: Outcome}, 404, 409, 413, 422),
    auth=WRITE,
    url_name="test_contact_method",
)
def test_contact_method(
    request: SignedInRequest, person_id: RowId, method_id: RowId
) -> dict[str, Any]:
    """Send a test message carrying a verification code to the address."""
    problem = people.send_verification(_method(request, person_id, method_id))
    if problem:
        raise HttpError(409, problem)
    return {"ok": True, "detail": "a test message with a code is on its way"}


@people_router.post(
    "/{person_id}/contact-methods/{method_id}/verify",
    response=answers({200: Outcome}, 404, 413, 422),
    auth=WRITE,
    url_name="verify_contact_method",
)
def verify_contact_method(
    request: SignedInRequest, person_id: RowId, method_id: RowId, payload: CodeIn
) -> dict[str, Any]:
    """Verify a contact method with the code its test message carried."""
    problem = people.confirm(_method(request, person_id, method_id), payload.code)
    if problem:
        raise HttpError(422, problem)
    return {"ok": True, "detail": "verified: pages may use this contact method"}


@people_router.get(
    "/{person_id}/notification-rules",
    response=answers({200: list[NotificationRuleOut]}, 404, 422),
    auth=WRITE,
    url_name="list_notification_rules",
)
def list_notification_rules(request: SignedInRequest, person_id: RowId) -> list[NotificationRule]:
    """A person's notification rules: which contact method, after how many minutes,
    for which urgency."""
    return list(_own_or_admin(request, person_id).notification_rules.all())


@people_router.post(
    "/{person_id}/notification-rules",
    response=answers({201: NotificationRuleOut}, 404, 413, 422),
    auth=WRITE,
    url_name="create_notification_rule",
)
def create_notification_rule(
    request: SignedInRequest, person_id: RowId, payload: NotificationRuleIn
) -> Status[NotificationRule]:
    """Add a notification rule (e.g. critical: SMS at once, email after 5 min if still
    unacknowledged)."""
    person = _own_or_admin(request, person_id)
    if payload.urgency not in Urgency.values:
        raise HttpError(422, f"urgency must be one of: {', '.join(Urgency.values)}")
    method = one_or_404(ContactMethod, "contact method", pk=payload.contact_method_id, user=person)
    rule = NotificationRule.objects.create(
        user=person,
        contact_method=method,
        urgency=payload.urgency,
        delay_minutes=payload.delay_minutes,
    )
    return Status(201, rule)


@people_router.delete(
    "/{person_id}/notification-rules/{rule_id}",
    response=answers({204: None}, 404, 422),
    auth=WRITE,
    url_name="delete_notification_rule",
)
def delete_notification_rule(
    request: SignedInRequest, person_id: RowId, rule_id: RowId
) -> Status[None]:
    """Remove a notification rule."""
    person = _own_or_admin(request, person_id)
    one_or_404(NotificationRule, "notification rule", pk=rule_id, user=person).delete()
    return Status(204, None)


# -- schedules ------------------------------------------------------------------------------


def _people_refs(user_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    ids = {pk for pk in user_ids if pk is not None}
    users = get_user_model().objects.filter(pk__in=ids)
    reachable = people.reachable_ids(ids)
    return {
        u.pk: {
            "id": u.pk,
            "username": u.get_username(),
            "name": u.get_full_name() or u.get_username(),
            "reachable": u.pk in reachable,
        }
        for u in users
    }


def on_call_answer(
    view: ScheduleView, at: datetime, refs: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Who is on call at ``at`` and who comes next, as the API and pages show it."""
    found = schedules.now_and_next(view, at)
    current, upcoming = found["current"], found["next"]
    if refs is None:
        refs = _people_refs([s.user_id for s in (current, upcoming) if s is not None])

    def shift(
        s: Shift | None, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, Any] | None:
        if s is None:
            return None
        return {
            "person": refs.get(s.user_id),
            "start": start or s.start,
            "end": end or s.end,
            "source": s.source,
        }

    nobody_next = {"person": None, "start": found["next_from"], "end": None, "source": ""}
    return {
        "schedule_id": view.id,
        "schedule": view.name,
        "at": at,
        "current": shift(current, end=found["until"]),
        "next": shift(upcoming, start=found["next_from"])
        if upcoming
        else (nobody_next if found["next_from"] else None),
        "empty": view.empty,
    }


def _schedule_out(schedule: Schedule, at: datetime) -> dict[str, Any]:
    view = _view(schedule.pk, at)
    data = editing.schedule_as_data(schedule)
    overrides = list(schedule.overrides.filter(end__gt=at).order_by("start"))
    refs = _people_refs(
        [o.user_id for o in overrides]
        + [o.replaces_id for o in overrides]
        + [s.user_id for s in _shifts(view, at)]
    )
    return {
        "id": schedule.pk,
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        "description": schedule.description,
        "rotations": data["rotations"],
        "on_call": on_call_answer(view, at, refs),
        "overrides": [_override_out(o, refs) for o in overrides],
    }


def _view(schedule_id: int, since: datetime) -> ScheduleView:
    view = schedules.load_one(schedule_id, since=since)
    if view is None:  # deleted meanwhile
        raise HttpError(404, "no schedule")
    return view


def _shifts(view: ScheduleView, at: datetime) -> list[Shift]:
    found = schedules.now_and_next(view, at)
    return [s for s in (found["current"], found["next"]) if s is not None]


def _override_out(o: Override, refs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": o.pk,
        "schedule_id": o.schedule_id,
        "person": refs.get(o.user_id),
        "replaces": refs.get(o.replaces_id) if o.replaces_id else None,
        "start": o.start,
        "end": o.end,
        "note": o.note,
    }


@schedules_router.get(
    "", response=answers({200: list[OnCallOut]}), auth=READ, url_name="list_schedules"
)
def list_schedules(request: HttpRequest) -> list[dict[str, Any]]:
    """Every schedule with who is on call now and next."""
    now = timezone.now()
    views = schedules.load(since=now)
    found = {view.id: schedules.now_and_next(view, now) for view in views.values()}
    # Everyone named, in one query.
    refs = _people_refs(
        s.user_id for f in found.values() for s in (f["current"], f["next"]) if s is not None
    )
    return sorted(
        (on_call_answer(view, now, refs) for view in views.values()),
        key=lambda a: a["schedule"].lower(),
    )


@schedules_router.post(
    "", response=answers({201: ScheduleOut}, 409, 413, 422), auth=ADMIN, url_name="create_schedule"
)
def create_schedule(request: HttpRequest, payload: ScheduleIn) -> Status[dict[str, Any]]:
    """Create a schedule: layers of rotations (participants, handoff, length, time zone, start)."""
    schedule = _saved(editing.save_schedule, payload.dict(), None, "schedule")
    return Status(201, _schedule_out(schedule, timezone.now()))


schedule_item = ById(schedules_router, "/{schedule_id}", read=READ, write=ADMIN)


def _schedule(schedule_id: int) -> Schedule:
    return one_or_404(Schedule, "schedule", pk=schedule_id)


@schedule_item.get(ScheduleOut, url_name="get_schedule")
def get_schedule(request: HttpRequest, schedule_id: RowId) -> dict[str, Any]:
    """One schedule with its layers, overrides and who is on call now and next."""
    return _schedule_out(_schedule(schedule_id), timezone.now())


@schedule_item.put(ScheduleOut, 409, url_name="replace_schedule")
def replace_schedule(
    request: HttpRequest, schedule_id: RowId, payload: ScheduleIn
) -> dict[str, Any]:
    """Replace a schedule's layers and settings."""
    schedule = _saved(editing.save_schedule, payload.dict(), _schedule(schedule_id), "schedule")
    return _schedule_out(schedule, timezone.now())


@schedule_item.patch(ScheduleOut, 409, url_name="update_schedule")
def update_schedule(
    request: HttpRequest, schedule_id: RowId, payload: SchedulePatch
) -> dict[str, Any]:
    """Change the fields named (``rotations`` replaces every layer); the others stay."""
    schedule = _schedule(schedule_id)
    data = {**editing.schedule_as_data(schedule), **payload.dict(exclude_unset=True)}
    return _schedule_out(_saved(editing.save_schedule, data, schedule, "schedule"), timezone.now())


@schedule_item.delete(409, url_name="delete_schedule")
def delete_schedule(request: HttpRequest, schedule_id: RowId) -> Status[None]:
    """Delete a schedule."""
    try:
        _schedule(schedule_id).delete()
    except ProtectedError:
        raise HttpError(409, "an escalation policy uses this schedule") from None
    return Status(204, None)


@schedules_router.get(
    "/{schedule_id}/oncall",
    response=answers({200: OnCallOut}, 404, 422),
    auth=READ,
    url_name="schedule_oncall",
)
def schedule_oncall(
    request: HttpRequest, schedule_id: RowId, query: Query[AtQuery]
) -> dict[str, Any]:
    """Who is on call at ``at`` (default now), until when, and who comes next."""
    _schedule(schedule_id)
    at = query.at or timezone.now()
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)  # an instant without a zone is read as UTC
    return on_call_answer(_view(schedule_id, at), at)


@schedules_router.post(
    "/{schedule_id}/overrides",
    response=answers({201: OverrideOut}, 404, 413, 422),
    auth=WRITE,
    url_name="create_override",
)
def create_override(
    request: SignedInRequest, schedule_id: RowId, payload: OverrideIn
) -> Status[dict[str, Any]]:
    """Cover a window of the schedule. Responders create overrides for themselves;
    admins (managers) for anyone."""
    schedule = _schedule(schedule_id)
    person_id = payload.person_id or request.user.pk
    if person_id != request.user.pk and not has_role(request.user, Role.ADMIN):
        raise HttpError(403, "only admins create overrides for other people")
    person = _person(person_id)
    replaces = _person(payload.replaces_id) if payload.replaces_id else None
    if payload.end <= payload.start:
        raise HttpError(422, "the override must end after it starts")
    override = Override.objects.create(
        schedule=schedule,
        user=person,
        replaces=replaces,
        start=payload.start,
        end=payload.end,
        note=payload.note,
        created_by=request.user,
    )
    return Status(201, _override_out(override, _people_refs([person.pk, payload.replaces_id])))


@schedules_router.delete(
    "/{schedule_id}/overrides/{override_id}",
    response=answers({204: None}, 404, 422),
    auth=WRITE,
    url_name="delete_override",
)
def delete_override(
    request: SignedInRequest, schedule_id: RowId, override_id: RowId
) -> Status[None]:
    """Remove an override."""
    override = one_or_404(Override, "override", pk=override_id, schedule_id=schedule_id)
    mine = request.user.pk in (override.user_id, override.created_by_id)
    if not mine and not has_role(request.user, Role.ADMIN):
        raise HttpError(403, "only admins remove other people's overrides")
    override.delete()
    return Status(204, None)


# -- escalation policies ----------------------------------------------------------------------


def _policy_out(policy: EscalationPolicy) -> dict[str, Any]:
    data = editing.policy_as_data(policy)
    return {
        "id": policy.pk,
        "name": policy.name,
        "description": policy.description,
        "repeat": policy.repeat,
        "routing_rules": data["routing_rules"],
        "steps": data["steps"],
        "problems": policy.problems or [],
    }


def _step_data(data: dict[str, Any]) -> dict[str, Any]:
    """A policy body as ``editing.save_policy`` takes it: a step names only its target."""
    if "steps" in data:
        data["steps"] = [{k: v for k, v in s.items() if v is not None} for s in data["steps"]]
    return data


@policies_router.get(
    "", response=answers({200: list[PolicyOut]}), auth=READ, url_name="list_escalation_policies"
)
def list_escalation_policies(request: HttpRequest) -> list[dict[str, Any]]:
    """Escalation policies with their steps and what their lint found."""
    return [_policy_out(p) for p in EscalationPolicy.objects.prefetch_related("routing_rules")]


@policies_router.post(
    "",
    response=answers({201: PolicyOut}, 409, 413, 422),
    auth=ADMIN,
    url_name="create_escalation_policy",
)
def create_escalation_policy(request: HttpRequest, payload: PolicyIn) -> Status[dict[str, Any]]:
    """Create a policy; the answer lists what its lint found (unreachable steps, empty
    schedules, people nobody could reach)."""
    policy = _saved(editing.save_policy, _step_data(payload.dict()), None, "policy")
    return Status(201, _policy_out(policy))


policy_item = ById(policies_router, "/{policy_id}", read=READ, write=ADMIN)


def _policy(policy_id: int) -> EscalationPolicy:
    return one_or_404(EscalationPolicy, "escalation policy", pk=policy_id)


@policy_item.get(PolicyOut, url_name="get_escalation_policy")
def get_escalation_policy(request: HttpRequest, policy_id: RowId) -> dict[str, Any]:
    """One escalation policy with its steps and lint."""
    return _policy_out(_policy(policy_id))


@policy_item.put(PolicyOut, 409, url_name="replace_escalation_policy")
def replace_escalation_policy(
    request: HttpRequest, policy_id: RowId, payload: PolicyIn
) -> dict[str, Any]:
    """Replace a policy's steps and repeat count."""
    data = _step_data(payload.dict())
    return _policy_out(_saved(editing.save_policy, data, _policy(policy_id), "policy"))


@policy_item.patch(PolicyOut, 409, url_name="update_escalation_policy")
def update_escalation_policy(
    request: HttpRequest, policy_id: RowId, payload: PolicyPatch
) -> dict[str, Any]:
    """Change the fields named (``steps`` replaces every step); the others stay."""
    policy = _policy(policy_id)
    named = _step_data(payload.dict(exclude_unset=True))
    data = {**editing.policy_as_data(policy), **named}
    return _policy_out(_saved(editing.save_policy, data, policy, "policy"))


@policy_item.delete(url_name="delete_escalation_policy")
def delete_escalation_policy(request: HttpRequest, policy_id: RowId) -> Status[None]:
    """Delete an escalation policy."""
    _policy(policy_id).delete()
    return Status(204, None)
