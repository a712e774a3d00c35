"""The on-call pages, the confirm page of a message's links, and the endpoints Slack
and Twilio call back."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from alerts.models import Alert
from oncall import actions, links


@never_cache
def act(request: HttpRequest, token: str) -> HttpResponse:
    """Where an Acknowledge / Resolve link lands. A GET shows what the link will do (mail
    scanners and link previews open links: they must change nothing); the button posts
    it. No session is needed: the signed token names the alert and the person."""
    try:
        grant = links.read(token)
    except links.BadLink as exc:
        return render(request, "oncall/act.html", {"problem": str(exc)}, status=400)
    alert = Alert.objects.filter(pk=grant.alert_id).first()
    person = get_user_model().objects.filter(pk=grant.user_id, is_active=True).first()
    if alert is None or person is None:
        return render(
            request, "oncall/act.html", {"problem": "this link is no longer valid"}, status=410
        )
    context = {
        "alert": alert,
        "person": person,
        "action": grant.action,
        "label": links.ACTIONS[grant.action],
    }
    if request.method == "POST":
        outcome = actions.perform(grant.action, alert.pk, person, via="a link in a message")
        alert.refresh_from_db()
        context.update(alert=alert, done=outcome.ok, outcome=outcome.detail)
        return render(request, "oncall/act.html", context, status=200 if outcome.ok else 409)
    return render(request, "oncall/act.html", context)
