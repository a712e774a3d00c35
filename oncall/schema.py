"""The API's shapes for people, schedules (layers, rotations, overrides) and escalation
policies: what ``oncall.api`` reads and answers.

Answers that start with a row's columns are ModelSchemas of the model with
``opsconsole.apitools.StoredColumns`` mixed in, what is not a column added by a
subclass. A PATCH schema types its fields without None (``NOT_SENT``): the handlers
read it with ``exclude_unset``, so a field not sent is kept and a null is a 422."""

from __future__ import annotations

from datetime import date, datetime, time

from django.contrib.auth import get_user_model
from ninja import Field, ModelSchema, Schema
from pydantic import ConfigDict, field_validator

from oncall.models import ContactMethod, EscalationPolicy, Schedule, Urgency
from opsconsole.apitools import NOT_SENT, StoredColumns


class PersonColumns(StoredColumns, ModelSchema):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class PersonOut(PersonColumns):
    username: str = Field(..., description="the name they sign in with")
    name: str = Field(..., description="the full name, else the username")
    reachable: bool = Field(..., description="false: no verified contact method")


class ContactMethodColumns(StoredColumns, ModelSchema):
    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "address", "label"]


class ContactMethodOut(ContactMethodColumns):
    channel_id: int | None = Field(..., description="null: the first enabled channel of the kind")
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


class NotificationRuleOut(Schema):
    id: int
    contact_method_id: int
    urgency: str
    delay_minutes: int


class NotificationRuleIn(Schema):
    contact_method_id: int
    urgency: str = Field(Urgency.ANY, description="high (error, critical), low or any")
    delay_minutes: int = Field(0, ge=0, le=1440)


class PersonRef(PersonOut):
    """A person as a shift or an override names them."""


class ShiftOut(Schema):
    person: PersonRef | None
    start: datetime | None
    end: datetime | None
    source: str


class OnCallOut(Schema):
    schedule_id: int
    schedule: str
    at: datetime
    current: ShiftOut | None = Field(..., description="who is on call at `at`; null: nobody")
    next: ShiftOut | None = Field(..., description="who comes next, from next.start")
    empty: bool = Field(..., description="no rotation has participants")


class RotationIO(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    layer: int = Field(1, ge=1, le=99, description="the higher layer wins where it has someone")
    length: str = Field("weekly", description="daily, weekly or hours")
    shift_hours: int = Field(12, ge=1, le=672, description="for length 'hours'")
    # A time of day on the schedule's own clock (its time_zone): HH:MM[:SS], no offset.
    handoff_time: time = Field(
        time(9, 0),
        description="HH:MM on the schedule's clock (no offset: time_zone says which clock)",
        json_schema_extra={"format": "partial-time", "pattern": r"^\d{2}:\d{2}(:\d{2})?$"},
    )
    start_date: date
    participants: list[str] = Field(default_factory=list, description="usernames, in turn order")

    @field_validator("handoff_time")
    @classmethod
    def _on_the_schedules_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give the handoff time without an offset: time_zone says which clock")
        return value


class RotationOut(RotationIO):
    """A rotation as stored: without the body's bounds, so an answer shows what is
    stored (a name longer than its column on SQLite) instead of failing with a 500."""

    name: str
    layer: int = Field(1, description="the higher layer wins where it has someone")
    shift_hours: int = Field(12, description="for length 'hours'")


class ScheduleIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    time_zone: str = "UTC"
    description: str = ""
    rotations: list[RotationIO] = Field(default_factory=list)


class SchedulePatch(Schema):
    """The fields a PATCH changes (only those it names); ``rotations`` replaces them all."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"time_zone": "Europe/Berlin"}]}
    )
    name: str = Field(NOT_SENT, min_length=1, max_length=100)
    time_zone: str = NOT_SENT
    description: str = NOT_SENT
    rotations: list[RotationIO] = NOT_SENT


class OverrideOut(Schema):
    id: int
    schedule_id: int
    person: PersonRef | None
    replaces: PersonRef | None
    start: datetime
    end: datetime
    note: str


class ScheduleColumns(StoredColumns, ModelSchema):
    class Meta:
        model = Schedule
        fields = ["id", "name", "time_zone", "description"]


class ScheduleOut(ScheduleColumns):
    rotations: list[RotationOut]
    on_call: OnCallOut
    overrides: list[OverrideOut]


class AtQuery(Schema):
    at: datetime | None = Field(None, description="ISO 8601 instant; default now")


class OverrideIn(Schema):
    person_id: int | None = Field(None, description="who covers; default: yourself")
    replaces_id: int | None = Field(None, description="for whom; blank: whoever is on call")
    start: datetime
    end: datetime
    note: str = Field("", max_length=200)


class StepIO(Schema):
    action: str = Field(..., description="schedule, next, person, group, channel or repeat")
    schedule: str | None = Field(None, description="a schedule's name (schedule, next)")
    person: str | None = Field(None, description="a username (person)")
    group: str | None = Field(None, description="a group's name (group)")
    channel: str | None = Field(None, description="a channel's name (channel)")
    repeat_from: int | None = Field(None, description="a step number before this one (repeat)")
    wait_minutes: int = Field(5, ge=0, le=1440, description="before the next step")


class PolicyIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    description: str = ""
    repeat: int = Field(0, ge=0, le=20, description="times the policy starts over")
    routing_rules: list[str] = Field(default_factory=list, description="routing rule names")
    steps: list[StepIO] = Field(default_factory=list)


class PolicyPatch(Schema):
    """The fields a PATCH changes (only those it names); ``steps`` replaces them all."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"repeat": 2}]})
    name: str = Field(NOT_SENT, min_length=1, max_length=100)
    description: str = NOT_SENT
    repeat: int = Field(NOT_SENT, ge=0, le=20, description="times the policy starts over")
    routing_rules: list[str] = Field(NOT_SENT, description="routing rule names")
    steps: list[StepIO] = NOT_SENT


class PolicyColumns(StoredColumns, ModelSchema):
    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "description", "repeat"]


class PolicyOut(PolicyColumns):
    routing_rules: list[str] = Field(..., description="the routing rules it escalates, by name")
    steps: list[dict]
    problems: list[str] = Field(..., description="what the lint found at the last save")
