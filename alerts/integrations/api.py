"""Inbound integrations under /api/v1/integrations/: other monitoring systems post here.

A token with the ``ingest`` scope, whose owner may raise and resolve alerts (the
responder role), authenticates: ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import logging

from ninja import Router, Schema, Status

from alerts.integrations import alertmanager
from opsconsole.apitools import ErrorOut, answers
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role

logger = logging.getLogger(__name__)

router = Router(tags=["integrations"])

SUPPORTED_VERSION = "4"


class AlertmanagerResult(Schema):
    index: int
    result: str
    fingerprint: str
    alert_id: int | None
    detail: str


class AlertmanagerOut(Schema):
    detail: str
    received: int
    opened: int
    repeated: int
    resolved: int
    not_open: int
    stale: int
    refused: int
    truncated: int
    results: list[AlertmanagerResult]


class AlertmanagerRefused(ErrorOut):
    """A 422: the payload did not validate (``errors``, as every operation's 422), or
    some of its alerts were refused (the counts and each alert's result, as a 200)."""

    received: int | None = None
    opened: int | None = None
    repeated: int | None = None
    resolved: int | None = None
    not_open: int | None = None
    stale: int | None = None
    refused: int | None = None
    truncated: int | None = None
    results: list[AlertmanagerResult] | None = None


def _answer(status: int, detail: str, payload, received=None):
    received = received or alertmanager.Received()
    return Status(
        status,
        {
            "detail": detail,
            "received": len(payload.alerts),
            **received.counts(),
            "truncated": payload.truncatedAlerts,
            "results": [vars(outcome) for outcome in received.outcomes],
        },
    )


@router.post(
    "/alertmanager",
    # Its 422 is either ninja's (the payload did not validate) or the same answer as
    # its 200: each alert's result, and a detail naming the refused ones.
    response={**answers({200: AlertmanagerOut}, 413), 422: AlertmanagerRefused},
    auth=api_auth(Scope.INGEST, Role.RESPONDER),
    url_name="alertmanager_webhook",
)
def alertmanager_webhook(request, payload: alertmanager.AlertmanagerPayload):
    """Alertmanager's webhook (payload version 4): each alert opens, repeats or resolves
    a console alert, identified by Alertmanager's fingerprint.

    200: every alert was taken. 422: some (or the whole payload) could not be read; the
    answer names each refused alert by its index in ``alerts`` and the reason, and the
    others were stored all the same (Alertmanager does not resend after a 4xx, and a
    resend would count repeats, not new alerts).
    """
    if payload.version is not None and payload.version != SUPPORTED_VERSION:
        return _answer(
            422, f"payload version {payload.version!r} is not supported (only 4)", payload
        )
    if not payload.alerts:
        return _answer(422, "the payload has no alerts", payload)
    received = alertmanager.receive(payload)
    if payload.truncatedAlerts:
        logger.warning(
            "Alertmanager left %d alerts of group %s out (its max_alerts)",
            payload.truncatedAlerts,
            payload.groupKey,
        )
    refused = received.refused
    if refused:
        reasons = "; ".join(f"alerts[{o.index}]: {o.detail}" for o in refused[:5])
        more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
        if len(refused) == len(payload.alerts):
            detail = f"every alert refused, none stored: {reasons}{more}"
        else:
            detail = (
                f"{len(refused)} of {len(payload.alerts)} alerts refused, the others stored: "
                f"{reasons}{more}"
            )
        return _answer(422, detail, payload, received)
    return _answer(200, "", payload, received)
