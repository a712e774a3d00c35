"""People, schedules and escalation policies under /api/v1/.

Viewers read schedules, who is on call and policies; a person's contact methods and
notification rules are theirs: responders manage their own, admins anyone's.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from notifications.models import NotificationChannel
from oncall import people
from oncall.models import ContactKind, ContactMethod, NotificationRule, Urgency
from opsconsole.apitools import one_or_404
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role, has_role

people_router = Router(tags=["people"])

READ = api_auth()
WRITE = api_auth(Scope.WRITE, Role.RESPONDER)
ADMIN = api_auth(Scope.WRITE, Role.ADMIN)


def _person(person_id: int):
    return one_or_404(get_user_model(), "person", pk=person_id, is_active=True)


def _own_or_admin(request, person_id: int):
    """A person's own records: theirs (responders and up) or an admin's to manage."""
    person = _person(person_id)
    if request.auth.pk != person.pk and not has_role(request.auth, Role.ADMIN):
        raise HttpError(403, "only admins manage other people's contact methods and rules")
    return person


# -- people ---------------------------------------------------------------------------------
class PersonOut(Schema):
    id: int
    username: str
    name: str
    reachable: bool = Field(..., description="false: no verified contact method")


@people_router.get("", response=list[PersonOut], auth=READ, url_name="list_people")
def list_people(request):
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


class ContactMethodOut(Schema):
    id: int
    kind: str
    address: str
    label: str
    channel_id: int | None
    verified: bool
    verified_at: datetime | None
    verification_sent_at: datetime | None


class ContactMethodIn(Schema):
    kind: str = Field(..., description="email, phone, slack or telegram")
    address: str = Field(..., min_length=1, max_length=200)
    label: str = Field("", max_length=60)
    channel_id: int | None = Field(None, description="blank: the first enabled channel of the kind")


class CodeIn(Schema):
    code: str = Field(..., min_length=1, max_length=12)


class Outcome(Schema):
    ok: bool
    detail: str


@people_router.get(
    "/{person_id}/contact-methods",
    response=list[ContactMethodOut],
    auth=WRITE,
    url_name="list_contact_methods",
)
def list_contact_methods(request, person_id: int):
    return list(_own_or_admin(request, person_id).contact_methods.all())


@people_router.post(
    "/{person_id}/contact-methods",
    response={201: ContactMethodOut},
    auth=WRITE,
    url_name="create_contact_method",
)
def create_contact_method(request, person_id: int, payload: ContactMethodIn):
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


def _method(request, person_id: int, method_id: int) -> ContactMethod:
    person = _own_or_admin(request, person_id)
    return one_or_404(ContactMethod, "contact method", pk=method_id, user=person)


@people_router.delete(
    "/{person_id}/contact-methods/{method_id}",
    response={204: None},
    auth=WRITE,
    url_name="delete_contact_method",
)
def delete_contact_method(request, person_id: int, method_id: int):
    _method(request, person_id, method_id).delete()
    return Status(204, None)


@people_router.post(
    "/{person_id}/contact-methods/{method_id}/test",
    response=Outcome,
    auth=WRITE,
    url_name="test_contact_method",
)
def test_contact_method(request, person_id: int, method_id: int):
    """Send a test message carrying a verification code to the address."""
    problem = people.send_verification(_method(request, person_id, method_id))
    if problem:
        raise HttpError(409, problem)
    return {"ok": True, "detail": "a test message with a code is on its way"}


@people_router.post(
    "/{person_id}/contact-methods/{method_id}/verify",
    response=Outcome,
    auth=WRITE,
    url_name="verify_contact_method",
)
def verify_contact_method(request, person_id: int, method_id: int, payload: CodeIn):
    problem = people.confirm(_method(request, person_id, method_id), payload.code)
    if problem:
        raise HttpError(422, problem)
    return {"ok": True, "detail": "verified: pages may use this contact method"}


class RuleOut(Schema):
    id: int
    contact_method_id: int
    urgency: str
    delay_minutes: int


class RuleIn(Schema):
    contact_method_id: int
    urgency: str = Field(Urgency.ANY, description="high (error, critical), low or any")
    delay_minutes: int = Field(0, ge=0, le=1440)


@people_router.get(
    "/{person_id}/notification-rules",
    response=list[RuleOut],
    auth=WRITE,
    url_name="list_notification_rules",
)
def list_notification_rules(request, person_id: int):
    return list(_own_or_admin(request, person_id).notification_rules.all())


@people_router.post(
    "/{person_id}/notification-rules",
    response={201: RuleOut},
    auth=WRITE,
    url_name="create_notification_rule",
)
def create_notification_rule(request, person_id: int, payload: RuleIn):
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
    response={204: None},
    auth=WRITE,
    url_name="delete_notification_rule",
)
def delete_notification_rule(request, person_id: int, rule_id: int):
    person = _own_or_admin(request, person_id)
    one_or_404(NotificationRule, "notification rule", pk=rule_id, user=person).delete()
    return Status(204, None)


def _now() -> datetime:
    return timezone.now()
