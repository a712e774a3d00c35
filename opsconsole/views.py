from __future__ import annotations

from urllib.parse import urlencode

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from opsconsole import audit
from opsconsole.models import AuditEntry
from opsconsole.panels import panels_for
from opsconsole.roles import Role, has_role, role_required


def plain_health(request):
    """``GET /health`` for load balancers: 200 while the process and its database answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "unhealthy", "database": exc.__class__.__name__}, status=503)
    return JsonResponse({"status": "ok"})


@role_required(Role.VIEWER)
def sentry_station(request):
    """The audit stream, live, with filters; older entries page back by cursor."""
    errors = []
    try:
        kind = audit.parse_kind(request.GET.get("kind"))
    except ValueError as exc:
        errors.append(f"Kind filter ignored: {exc}.")
        kind = ""
    actor = (request.GET.get("actor") or "").strip()[:150]
    q = (request.GET.get("q") or "").strip()[:200]
    before = None
    if request.GET.get("before"):
        try:
            before = int(request.GET["before"])
        except ValueError:
            errors.append("The 'before' cursor is not a number: showing the newest entries.")
    rows = list(audit.entries(kind=kind, actor=actor, q=q, before=before)[: audit.PAGE_SIZE + 1])
    more = len(rows) > audit.PAGE_SIZE
    rows = rows[: audit.PAGE_SIZE]
    filters = {k: v for k, v in {"kind": kind, "actor": actor, "q": q}.items() if v}
    context = {
        "entries": rows,
        "kinds": AuditEntry.Kind.choices,
        "kind": kind,
        "actor": actor,
        "q": q,
        "before": before,
        "errors": errors,
        "filters": filters,
        "ws_query": urlencode(filters),
        "older_query": urlencode({**filters, "before": rows[-1].pk}) if more else "",
        "cursor": AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        "show_ip": has_role(request.user, Role.ADMIN),
        "panels": panels_for("station", request),
    }
    return render(request, "opsconsole/station.html", context)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a write from someone not signed in is unauthenticated (401,
    with where to log in), which is what they need to hear; a signed-in write, or the
    login form itself, gets Django's own CSRF page (403)."""
    from django.views.csrf import csrf_failure as django_csrf_failure

    login_paths = (reverse("login"), reverse("admin:login"))
    user = getattr(request, "user", None)
    if (user is not None and user.is_authenticated) or request.path in login_paths:
        return django_csrf_failure(request, reason)
    login = f"{reverse('login')}?{urlencode({'next': request.path})}"
    if request.headers.get("HX-Request") or "json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {"detail": f"authentication required: Log in at {login} first"}, status=401
        )
    return render(request, "401.html", {"login_url": login}, status=401)
