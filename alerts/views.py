"""The alerts console pages: the list, one alert, patterns, and the actions taken from them."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from alerts import charts, console
from alerts.decisions import decisions_of
from alerts.models import Alert
from alerts.service import AlertService
from opsconsole.panels import panels_for
from opsconsole.roles import Role, has_role, role_required

PATTERN_DAYS = [1, 7, 30, 90]


@role_required(Role.VIEWER)
def alert_list(request):
    filters = console.parse_filters(request.GET)
    page = console.page_of(filters)
    context = {
        "filters": filters,
        "page": page,
        "counts": console.open_counts(),
        "cursor": console.last_event_id(),
        "can_act": has_role(request.user, Role.RESPONDER),
        "ws_query": urlencode(filters.as_query(page=page.number)),
        **console.pager_queries(filters, page),
        "page_size": console.PAGE_SIZE,
        "pending": console.pending(),
        "panels": panels_for("alert_list", request),
        "statuses": console.STATUS_CHOICES,
        "severities": console.SEVERITY_ORDER,
        "categories": console.Category.values,
        "ranges": list(console.RANGES),
        "suppress_hours": console.SUPPRESS_HOURS,
    }
    return render(request, "alerts/list.html", context)


@role_required(Role.VIEWER)
def alert_detail(request, alert_id: int):
    alert = Alert.objects.select_related("rule").filter(pk=alert_id).first()
    if alert is None:
        raise Http404(f"No alert #{alert_id}: it may have been deleted.")
    events = list(alert.events.all())
    context = {
        "alert": alert,
        "events": events,
        "cursor": events[-1].pk if events else 0,
        "can_act": has_role(request.user, Role.RESPONDER),
        "suppress_hours": console.SUPPRESS_HOURS,
        "panels": panels_for("alert_detail", alert, request),
        "decisions": decisions_of(alert),
    }
    return render(request, "alerts/detail.html", context)


@role_required(Role.VIEWER)
def alert_patterns(request):
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        days = 0
    error = None
    if days not in PATTERN_DAYS:
        error = f"Choose a period of {', '.join(map(str, PATTERN_DAYS))} days: showing 7."
        days = 7
    patterns = AlertService().get_alert_patterns(days=days)
    context = {
        "patterns": patterns,
        "since": datetime.fromisoformat(patterns["since"]),
        "days": days,
        "periods": PATTERN_DAYS,
        "error": error,
        "hourly_chart": charts.hourly_chart(patterns["hourly_distribution"]),
        "types": charts.shares(
            {
                patterns["type_names"].get(alert_type, alert_type): count
                for alert_type, count in patterns["type_distribution"].items()
            }
        ),
        "most_common_name": patterns["type_names"].get(
            patterns["most_common_type"], patterns["most_common_type"]
        ),
        "severities": charts.shares(
            {
                name: patterns["severity_distribution"].get(name, 0)
                for name in reversed(console.SEVERITY_ORDER)
            },
            keep_order=True,
        ),
    }
    return render(request, "alerts/patterns.html", context)


@require_POST
@role_required(Role.RESPONDER)
def alert_action(request):
    """Acknowledge, resolve or suppress one alert or many, with notes.

    htmx posts get the changed rows (or the detail summary) as out-of-band swaps and a
    one-line message; a plain form post is redirected back with the message."""
    ids = []
    for raw in request.POST.getlist("alert"):
        try:
            ids.append(int(raw))
        except ValueError:
            continue
    action = request.POST.get("action", "")
    where = "detail" if request.POST.get("view") == "detail" else "list"
    try:
        outcome = console.act(
            request.user.get_username(),
            action,
            ids,
            notes=request.POST.get("notes", "").strip()[:5000],
            duration_hours=request.POST.get("duration_hours") if action == "suppress" else None,
        )
    except console.ActionError as exc:
        return _action_response(request, where, str(exc), [], status=400, level="error")
    if outcome.failed and not outcome.done:
        status, level = 409, "error"
    elif not ids:
        status, level = 400, "error"
    else:
        status, level = 200, "warn" if outcome.failed else "ok"
    changed = [alert.pk for alert in outcome.done] + [alert_id for alert_id, _ in outcome.failed]
    return _action_response(request, where, outcome.summary, changed, status=status, level=level)


def _action_response(request, where, message, alert_ids, *, status, level):
    if not request.htmx:
        # Without JavaScript: back to where the form was, the message on the next page.
        (messages.success if level == "ok" else messages.error)(request, message)
        back = request.POST.get("next") or reverse("alert_list")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
            back = reverse("alert_list")
        return redirect(back)
    alerts = list(Alert.objects.filter(pk__in=alert_ids).select_related("rule"))
    html = render_to_string(
        "alerts/partials/action_result.html",
        {
            "message": message,
            "level": level,
            "alerts": alerts,
            "where": where,
            "can_act": True,
            "counts": console.open_counts(),
            "suppress_hours": console.SUPPRESS_HOURS,
        },
        request=request,
    )
    return HttpResponse(html, status=status)
