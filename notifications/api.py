"""Channels, routing rules and the delivery log under /api/v1/.

Viewers read; admins create, change, delete and test channels and edit routing.
Secrets are write-only: responses list which secrets are set (``secrets_set``), never
their values, and a PATCH merges the secrets it names into the stored ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict

from notifications.channels import (
    ChannelError,
    routing_rule_problems,
    save_channel,
    secret_names,
)
from notifications.configcode import routing_history
from notifications.delivery import resend, send_test
from notifications.models import (
    GROUP_FIELDS,
    MAX_GROUP_SECONDS,
    NO_GROUPING,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
    default_group_by,
)
from notifications.notifiers import available_kinds
from opsconsole.apitools import RowId, RowRef, answers, one_or_404
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role

channels_router = Router(tags=["notification channels"])
routing_router = Router(tags=["routing rules"])
notifications_router = Router(tags=["notifications"])

ADMIN = api_auth(Scope.WRITE, Role.ADMIN)
MAX_PAGE = 200


# -- channels -------------------------------------------------------------------------------
class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    config: dict
    secrets_set: list[str] = Field(..., description="names of the secrets stored")
    min_severity: str
    enabled: bool
    send_resolved: bool
    rate_limit_per_minute: int | None
    consecutive_failures: int
    circuit_open_until: datetime | None
    created: datetime
    updated: datetime

    @staticmethod
    def resolve_secrets_set(obj) -> list[str]:
        return secret_names(obj)


class ChannelIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ops-slack",
                    "kind": "slack",
                    "config": {"channel": "#ops"},
                    "secrets": {"webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"},
                    "min_severity": "warning",
                },
                {
                    "name": "ops-webhook",
                    "kind": "webhook",
                    "config": {"url": "https://hooks.example.com/alerts"},
                    "secrets": {"headers": {"Authorization": "Bearer ..."}},
                },
            ]
        }
    )
    name: str = Field(..., min_length=1, max_length=100)
    kind: str = Field(..., description="slack, email, sms, pagerduty, discord, telegram, ...")
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, Any] = Field(
        default_factory=dict,
        description='write-only; a webhook\'s headers too: {"headers": {"Authorization": "..."}}',
    )
    min_severity: str | None = Field(None, description="blank: info (critical for sms)")
    enabled: bool = True
    send_resolved: bool = True
    rate_limit_per_minute: int | None = Field(None, ge=0)


class ChannelPatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": False}, {"secrets": {"webhook_url": None}}]},
    )
    name: str | None = Field(None, min_length=1, max_length=100)
    config: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = Field(
        None, description="merged, headers one by one; null or '' removes one"
    )
    min_severity: str | None = None
    enabled: bool | None = None
    send_resolved: bool | None = None
    rate_limit_per_minute: int | None = Field(None, ge=0)


class TestResult(Schema):
    ok: bool
    status: str
    response_code: int | None
    error: str
    notification_id: int


@channels_router.get(
    "", response=answers({200: list[ChannelOut]}), auth=api_auth(), url_name="list_channels"
)
def list_channels(request):
    """Every channel; secrets are never shown, ``secrets_set`` names those stored."""
    return list(NotificationChannel.objects.all())


@channels_router.post(
    "", response=answers({201: ChannelOut}, 413, 422), auth=ADMIN, url_name="create_channel"
)
def create_channel(request, payload: ChannelIn):
    """A channel; unusable or unsafe settings (e.g. a URL into this network) get 422."""
    if payload.kind not in available_kinds():
        raise HttpError(422, f"kind must be one of: {', '.join(available_kinds())}")
    fields = payload.dict()
    try:
        channel = save_channel(None, **fields)
    except ChannelError as exc:
        raise HttpError(422, str(exc)) from None
    return Status(201, channel)


@channels_router.get(
    "/{channel_id}",
    response=answers({200: ChannelOut}, 404, 422),
    auth=api_auth(),
    url_name="get_channel",
)
def get_channel(request, channel_id: RowId):
    """One channel, secrets left out."""
    return _channel(channel_id)


@channels_router.patch(
    "/{channel_id}",
    response=answers({200: ChannelOut}, 404, 413, 422),
    auth=ADMIN,
    url_name="update_channel",
)
def update_channel(request, channel_id: RowId, payload: ChannelPatch):
    """Change the fields named: ``secrets`` are merged (null removes one), ``config`` is
    replaced."""
    channel = _channel(channel_id)
    # Absent or null: unchanged; except the rate limit, where null means the default.
    fields = {
        name: value
        for name, value in payload.dict(exclude_unset=True).items()
        if value is not None or name == "rate_limit_per_minute"
    }
    try:
        return save_channel(channel, **fields)
    except ChannelError as exc:
        raise HttpError(422, str(exc)) from None


@channels_router.delete(
    "/{channel_id}", response=answers({204: None}, 404, 422), auth=ADMIN, url_name="delete_channel"
)
def delete_channel(request, channel_id: RowId):
    """Delete a channel with its delivery log."""
    _channel(channel_id).delete()
    return Status(204, None)


@channels_router.post(
    "/{channel_id}/test",
    response=answers({200: TestResult}, 404, 422),
    auth=ADMIN,
    url_name="test_channel",
)
def test_channel(request, channel_id: RowId):
    """Send a test message now and say what the service answered."""
    record = send_test(_channel(channel_id))
    return {
        "ok": record.status == DeliveryStatus.SENT,
        "status": record.status,
        "response_code": record.response_code,
        "error": record.last_error,
        "notification_id": record.pk,
    }


def _channel(channel_id: int) -> NotificationChannel:
    return one_or_404(NotificationChannel, f"channel #{channel_id}", pk=channel_id)


# -- routing rules --------------------------------------------------------------------------
class RoutingRuleOut(Schema):
    id: int
    name: str
    position: int
    enabled: bool
    severities: list[str]
    categories: list[str]
    label_matchers: dict[str, str]
    channel_kinds: list[str]
    all_channels: bool
    channels: list[int]
    group_by: list[str]
    group_wait: int
    group_interval: int
    repeat_interval: int

    @staticmethod
    def resolve_channels(obj) -> list[int]:
        return sorted(c.pk for c in obj.channels.all())


class RoutingRulePatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"severities": ["critical"]}]}
    )
    name: str | None = Field(None, min_length=1, max_length=100)
    position: int | None = Field(None, ge=0)
    enabled: bool | None = None
    severities: list[str] | None = None
    categories: list[str] | None = None
    label_matchers: dict[str, str] | None = None
    channel_kinds: list[str] | None = None
    all_channels: bool | None = None
    channels: list[RowRef] | None = Field(None, description="channel ids")
    group_by: list[str] | None = Field(None, description="field or label names to group by")
    group_wait: int | None = Field(None, ge=0, le=MAX_GROUP_SECONDS)
    group_interval: int | None = Field(None, ge=0, le=MAX_GROUP_SECONDS)
    repeat_interval: int | None = Field(None, ge=60, le=MAX_GROUP_SECONDS)


class RoutingRuleIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "payments errors to Slack and email",
                    "severities": ["error", "critical"],
                    "label_matchers": {"team": "payments"},
                    "channel_kinds": ["slack", "email"],
                }
            ]
        }
    )
    name: str = Field(..., min_length=1, max_length=100)
    position: int = Field(100, ge=0)
    enabled: bool = True
    severities: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    label_matchers: dict[str, str] = Field(default_factory=dict)
    channel_kinds: list[str] = Field(default_factory=list)
    all_channels: bool = False
    channels: list[RowRef] = Field(default_factory=list, description="channel ids")
    group_by: list[str] = Field(
        default_factory=default_group_by,
        description=f"Any of {', '.join(GROUP_FIELDS)} or label names; "
        f'["{NO_GROUPING}"] sends one message per alert.',
        examples=[["rule"], ["rule", "host"], [NO_GROUPING]],
    )
    group_wait: int = Field(
        30, ge=0, le=MAX_GROUP_SECONDS, description="seconds a new group waits for more alerts"
    )
    group_interval: int = Field(
        300, ge=0, le=MAX_GROUP_SECONDS, description="seconds at least between a group's messages"
    )
    repeat_interval: int = Field(
        4 * 3600,
        ge=60,
        le=MAX_GROUP_SECONDS,
        description="seconds before an unchanged, unacknowledged group is sent again",
    )


def _save_rule(rule: RoutingRule | None, fields: dict, *, actor: str) -> RoutingRule:
    if problems := routing_rule_problems(fields):
        raise HttpError(422, "; ".join(problems))
    channels = fields.pop("channels", None)
    rule = rule or RoutingRule()
    try:
        with routing_history().change(rule, actor=actor, source="api"):
            for name, value in fields.items():
                setattr(rule, name, value)
            rule.save()
            if channels is not None:
                rule.channels.set(channels)
    except IntegrityError:
        raise HttpError(422, f"a routing rule named {rule.name!r} already exists") from None
    return rule


@routing_router.get(
    "",
    response=answers({200: list[RoutingRuleOut]}),
    auth=api_auth(),
    url_name="list_routing_rules",
)
def list_routing_rules(request):
    """The routing matrix, in the order rules are applied."""
    return list(RoutingRule.objects.prefetch_related("channels"))


@routing_router.post(
    "",
    response=answers({201: RoutingRuleOut}, 413, 422),
    auth=ADMIN,
    url_name="create_routing_rule",
)
def create_routing_rule(request, payload: RoutingRuleIn):
    """A routing rule: alerts matching its severities, categories and labels go to its
    channels (by id), every channel of its kinds, or every channel."""
    return Status(201, _save_rule(None, payload.dict(), actor=request.user.get_username()))


@routing_router.patch(
    "/{rule_id}",
    response=answers({200: RoutingRuleOut}, 404, 413, 422),
    auth=ADMIN,
    url_name="update_routing_rule",
)
def update_routing_rule(request, rule_id: RowId, payload: RoutingRulePatch):
    """Change the fields named; the others stay."""
    rule = _rule(rule_id)
    known = set(RoutingRuleIn.model_fields)
    current = {name: getattr(rule, name) for name in known if name != "channels"}
    current["channels"] = [c.pk for c in rule.channels.all()]
    try:
        merged = RoutingRuleIn(**{**current, **payload.dict(exclude_unset=True)}).dict()
    except ValueError as exc:
        raise HttpError(422, str(exc).splitlines()[0]) from None
    return _save_rule(rule, merged, actor=request.user.get_username())


@routing_router.delete(
    "/{rule_id}",
    response=answers({204: None}, 404, 422),
    auth=ADMIN,
    url_name="delete_routing_rule",
)
def delete_routing_rule(request, rule_id: RowId):
    """Delete a routing rule (kept in the configuration history)."""
    rule = _rule(rule_id)
    with routing_history().removal(rule, actor=request.user.get_username(), source="api"):
        rule.delete()
    return Status(204, None)


def _rule(rule_id: int) -> RoutingRule:
    return one_or_404(RoutingRule, f"routing rule #{rule_id}", pk=rule_id)


# -- the delivery log -----------------------------------------------------------------------
class NotificationOut(Schema):
    id: int
    alert_id: int | None
    channel_id: int
    channel: str
    transition: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    response_code: int | None
    idempotency_key: str
    created: datetime
    sent_at: datetime | None

    @staticmethod
    def resolve_channel(obj) -> str:
        return obj.channel.name


class NotificationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[NotificationOut]


class NotificationFilters(Schema):
    status: str | None = Field(None, description=", ".join(DeliveryStatus.values))
    channel: int | None = Field(None, description="channel id")
    alert: int | None = Field(None, description="alert id")
    transition: str | None = Field(None, description=", ".join(Transition.values))
    since: datetime | None = Field(None, description="created at or after")
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


@notifications_router.get(
    "",
    response=answers({200: NotificationPage}, 422),
    auth=api_auth(),
    url_name="list_notifications",
)
def list_notifications(request, filters: Query[NotificationFilters]):
    """The delivery log, newest first."""
    rows = Notification.objects.select_related("channel")
    if filters.status:
        if filters.status not in DeliveryStatus.values:
            raise HttpError(400, f"status must be one of: {', '.join(DeliveryStatus.values)}")
        rows = rows.filter(status=filters.status)
    if filters.transition:
        if filters.transition not in Transition.values:
            raise HttpError(400, f"transition must be one of: {', '.join(Transition.values)}")
        rows = rows.filter(transition=filters.transition)
    if filters.channel is not None:
        rows = rows.filter(channel_id=filters.channel)
    if filters.alert is not None:
        rows = rows.filter(alert_id=filters.alert)
    if filters.since:
        rows = rows.filter(created__gte=filters.since)
    return {
        "count": rows.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(
            rows.order_by("-created", "-id")[filters.offset : filters.offset + filters.limit]
        ),
    }


@notifications_router.post(
    "/{notification_id}/resend",
    response=answers({200: NotificationOut}, 404, 409, 422),
    auth=ADMIN,
    url_name="resend_notification",
)
def resend_notification(request, notification_id: RowId):
    """Send a message again (a fresh set of attempts), e.g. after fixing its channel."""
    if not resend([notification_id]):
        if not Notification.objects.filter(pk=notification_id).exists():
            raise HttpError(404, f"no notification #{notification_id}")
        raise HttpError(409, f"notification #{notification_id} is being sent right now")
    return Notification.objects.select_related("channel").get(pk=notification_id)
