"""Channels, routing rules and the delivery log under /api/v1/.

Viewers read; admins create, change, delete and test channels and edit routing.
Secrets are write-only: responses list which secrets are set (``secrets_set``), never
their values, and a PATCH merges the secrets it names into the stored ones.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest
from ninja import Query, Router, Status
from ninja.errors import HttpError

from notifications import schema
from notifications.channels import ChannelError, routing_rule_problems, save_channel
from notifications.configcode import routing_history
from notifications.delivery import resend, send_test
from notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
)
from notifications.notifiers import available_kinds
from opsconsole.apitools import RowId, answers, one_or_404
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role

channels_router = Router(tags=["notification channels"])
routing_router = Router(tags=["routing rules"])
notifications_router = Router(tags=["notifications"])

ADMIN = api_auth(Scope.WRITE, Role.ADMIN)


# -- channels -------------------------------------------------------------------------------


@channels_router.get(
    "", response=answers({200: list[schema.ChannelOut]}), auth=api_auth(), url_name="list_channels"
)
def list_channels(request: HttpRequest) -> list[NotificationChannel]:
    """Every channel; secrets are never shown, ``secrets_set`` names those stored."""
    return list(NotificationChannel.objects.all())


@channels_router.post(
    "", response=answers({201: schema.ChannelOut}, 413, 422), auth=ADMIN, url_name="create_channel"
)
def create_channel(request: HttpRequest, payload: schema.ChannelIn) -> Status[NotificationChannel]:
    """A channel; unusable or unsafe settings (e.g. a URL into this network) get 422."""
    if payload.kind not in available_kinds():
        raise HttpError(422, f"kind must be one of: {', '.join(available_kinds())}")
    fields = schema.channel_fields(payload)
    try:
        channel = save_channel(None, **fields)
    except ChannelError as exc:
        raise HttpError(422, str(exc)) from None
    return Status(201, channel)


@channels_router.get(
    "/{channel_id}",
    response=answers({200: schema.ChannelOut}, 404, 422),
    auth=api_auth(),
    url_name="get_channel",
)
def get_channel(request: HttpRequest, channel_id: RowId) -> NotificationChannel:
    """One channel, secrets left out."""
    return _channel(channel_id)


@channels_router.patch(
    "/{channel_id}",
    response=answers({200: schema.ChannelOut}, 404, 413, 422),
    auth=ADMIN,
    url_name="update_channel",
)
def update_channel(
    request: HttpRequest, channel_id: RowId, payload: schema.ChannelPatch
) -> NotificationChannel:
    """Change the fields named: ``secrets`` are merged (null removes one), ``config`` is
    replaced."""
    channel = _channel(channel_id)
    try:
        return save_channel(channel, **payload.changes(channel.kind))
    except ChannelError as exc:
        raise HttpError(422, str(exc)) from None


@channels_router.delete(
    "/{channel_id}", response=answers({204: None}, 404, 422), auth=ADMIN, url_name="delete_channel"
)
def delete_channel(request: HttpRequest, channel_id: RowId) -> Status[None]:
    """Delete a channel with its delivery log."""
    _channel(channel_id).delete()
    return Status(204, None)


@channels_router.post(
    "/{channel_id}/test",
    response=answers({200: schema.TestResult}, 404, 422),
    auth=ADMIN,
    url_name="test_channel",
)
def test_channel(request: HttpRequest, channel_id: RowId) -> dict[str, Any]:
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


def _save_rule(rule: RoutingRule | None, fields: dict[str, Any], *, actor: str) -> RoutingRule:
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
    response=answers({200: list[schema.RoutingRuleOut]}),
    auth=api_auth(),
    url_name="list_routing_rules",
)
def list_routing_rules(request: HttpRequest) -> list[RoutingRule]:
    """The routing matrix, in the order rules are applied."""
    return list(RoutingRule.objects.prefetch_related("channels"))


@routing_router.post(
    "",
    response=answers({201: schema.RoutingRuleOut}, 413, 422),
    auth=ADMIN,
    url_name="create_routing_rule",
)
def create_routing_rule(request: HttpRequest, payload: schema.RoutingRuleIn) -> Status[RoutingRule]:
    """A routing rule: alerts matching its severities, categories and labels go to its
    channels (by id), every channel of its kinds, or every channel."""
    return Status(201, _save_rule(None, payload.dict(), actor=request.user.get_username()))


@routing_router.patch(
    "/{rule_id}",
    response=answers({200: schema.RoutingRuleOut}, 404, 413, 422),
    auth=ADMIN,
    url_name="update_routing_rule",
)
def update_routing_rule(
    request: HttpRequest, rule_id: RowId, payload: schema.RoutingRulePatch
) -> RoutingRule:
    """Change the fields named; the others stay."""
    rule = _rule(rule_id)
    known = set(schema.RoutingRuleIn.model_fields)
    current = {name: getattr(rule, name) for name in known if name != "channels"}
    current["channels"] = [c.pk for c in rule.channels.all()]
    try:
        merged = schema.RoutingRuleIn(**{**current, **payload.dict(exclude_unset=True)}).dict()
    except ValueError as exc:
        raise HttpError(422, str(exc).splitlines()[0]) from None
    return _save_rule(rule, merged, actor=request.user.get_username())


@routing_router.delete(
    "/{rule_id}",
    response=answers({204: None}, 404, 422),
    auth=ADMIN,
    url_name="delete_routing_rule",
)
def delete_routing_rule(request: HttpRequest, rule_id: RowId) -> Status[None]:
    """Delete a routing rule (kept in the configuration history)."""
    rule = _rule(rule_id)
    with routing_history().removal(rule, actor=request.user.get_username(), source="api"):
        rule.delete()
    return Status(204, None)


def _rule(rule_id: int) -> RoutingRule:
    return one_or_404(RoutingRule, f"routing rule #{rule_id}", pk=rule_id)


# -- the delivery log -----------------------------------------------------------------------


@notifications_router.get(
    "",
    response=answers({200: schema.NotificationPage}, 422),
    auth=api_auth(),
    url_name="list_notifications",
)
def list_notifications(
    request: HttpRequest, filters: Query[schema.NotificationFilters]
) -> dict[str, Any]:
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
    response=answers({200: schema.NotificationOut}, 404, 409, 422),
    auth=ADMIN,
    url_name="resend_notification",
)
def resend_notification(request: HttpRequest, notification_id: RowId) -> Notification:
    """Send a message again (a fresh set of attempts), e.g. after fixing its channel."""
    if not resend([notification_id]):
        if not Notification.objects.filter(pk=notification_id).exists():
            raise HttpError(404, f"no notification #{notification_id}")
        raise HttpError(409, f"notification #{notification_id} is being sent right now")
    return Notification.objects.select_related("channel").get(pk=notification_id)
