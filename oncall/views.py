"""The on-call pages, the confirm page of a message's links, and the endpoints Slack
and Twilio call back."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts.constants import OPEN_STATUSES
from alerts.models import Alert
from notifications.gaps import NOBODY, routing_gaps
from oncall import actions, feeds, inbound, links, people, schedules
from oncall.models import ContactKind, ContactMethod, Override, PersonalFeed, Schedule
from opsconsole.roles import Role, has_role, role_required

if TYPE_CHECKING:
    from opsconsole.roles import SignedInRequest


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


# -- pages ------------------------------------------------------------------------------------
CALENDAR_DAYS = 28


def _names(user_ids) -> dict[int, dict]:
    ids = {pk for pk in user_ids if pk is not None}
    reachable = people.reachable_ids(ids)
    return {
        u.pk: {
            "name": u.get_full_name() or u.get_username(),
            "username": u.get_username(),
            "reachable": u.pk in reachable,
            "me": False,
        }
        for u in get_user_model().objects.filter(pk__in=ids)
    }


def calendar(view, start_day: date, days: int = CALENDAR_DAYS) -> list[list[dict]]:
    """Weeks of days in the schedule's zone, each day with who is on call when."""
    tz = view.tz
    start = datetime.combine(start_day, time(0), tzinfo=tz)
    end = datetime.combine(start_day + timedelta(days=days), time(0), tzinfo=tz)
    segments = schedules.timeline(view, start, end)
    weeks: list[list[dict]] = []
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        day_start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        pieces = [
            {
                "user_id": seg.user_id,
                "from": max(seg.start, day_start).astimezone(tz),
                "to": min(seg.end, day_end).astimezone(tz),
                "source": seg.source,
                "whole": seg.start <= day_start and seg.end >= day_end,
            }
            for seg in segments
            if seg.start < day_end and seg.end > day_start
        ]
        if offset % 7 == 0:
            weeks.append([])
        weeks[-1].append({"date": day, "pieces": pieces})
    return weeks


def _shift_row(shift, names, until=None) -> dict | None:
    if shift is None:
        return None
    return {"person": names.get(shift.user_id), "source": shift.source, "until": until}


def overview_rows(now: datetime, me=None) -> list[dict]:
    """Every schedule: who is on call now (until when) and who is next (from when)."""
    views = schedules.load(since=now)
    found = {pk: schedules.now_and_next(view, now) for pk, view in views.items()}
    names = _names(s.user_id for f in found.values() for s in (f["current"], f["next"]) if s)
    if me is not None and me.pk in names:
        names[me.pk] = {**names[me.pk], "me": True}
    return [
        {
            "schedule": views[pk],
            "current": _shift_row(f["current"], names, f["until"]),
            "next": _shift_row(f["next"], names),
            "next_from": f["next_from"],
        }
        for pk, f in sorted(found.items(), key=lambda item: views[item[0]].name.lower())
    ]


@role_required(Role.VIEWER)
def schedule_page(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=schedule_id)
    now = timezone.now()
    view = schedules.load_one(schedule.pk, since=now - timedelta(days=1))
    if view is None:
        raise Http404("no such schedule")  # deleted since the lookup above
    today = now.astimezone(view.tz).date()
    monday = today - timedelta(days=today.weekday())
    weeks = calendar(view, monday)
    rotations = list(schedule.rotations.prefetch_related("members__user"))
    overrides = list(
        schedule.overrides.filter(end__gt=now).select_related("user", "replaces").order_by("start")
    )
    ids = {p["user_id"] for week in weeks for day in week for p in day["pieces"]}
    ids |= {m.user_id for r in rotations for m in r.members.all()}
    names = _names(ids)
    for week in weeks:
        for day in week:
            for piece in day["pieces"]:
                piece["person"] = names.get(piece["user_id"])
    found = schedules.now_and_next(view, now)
    unreachable = [names[pk] for pk in sorted(ids) if pk in names and not names[pk]["reachable"]]
    return render(
        request,
        "oncall/schedule.html",
        {
            "schedule": schedule,
            "zone": view.tz,
            "current": _shift_row(found["current"], names, found["until"]),
            "next": _shift_row(found["next"], names),
            "next_from": found["next_from"],
            "weeks": weeks,
            "today": today,
            "rotations": [
                {"rotation": r, "members": [names.get(m.user_id) for m in r.members.all()]}
                for r in rotations
            ],
            "overrides": overrides,
            "unreachable": unreachable,
            "empty": view.empty,
            "can_see_feed": has_role(request.user, Role.RESPONDER),
            "feed_url": settings.PUBLIC_URL
            + reverse("oncall_schedule_feed", args=[schedule.feed_token]),
        },
    )


@role_required(Role.VIEWER)
def oncall_page(request: SignedInRequest) -> HttpResponse:
    """Who is on call now for every schedule; my shifts; my open pages."""
    now = timezone.now()
    context = {
        "rows": overview_rows(now, request.user),
        "now": now,
        "kinds": ContactKind.choices,
        "can_manage": has_role(request.user, Role.RESPONDER),
        # Severities whose routing escalates to nobody (the routing gaps of on-call).
        "nobody_gaps": [gap for gap in routing_gaps() if gap.reach == NOBODY],
    }
    context.update(my_oncall(request.user, now))
    feed, _ = PersonalFeed.objects.get_or_create(user=request.user)
    context["feed_url"] = settings.PUBLIC_URL + reverse("oncall_person_feed", args=[feed.token])
    return render(request, "oncall/oncall.html", context)


def my_oncall(user, now: datetime) -> dict:
    """The signed-in person's shifts in the next four weeks, their open pages, and
    whether anyone could reach them."""
    horizon = now + timedelta(days=CALENDAR_DAYS)
    shifts: list[dict[str, Any]] = []
    for view in schedules.load(since=now).values():
        for seg in schedules.timeline(view, now, horizon):
            if seg.user_id == user.pk:
                shifts.append(
                    {"schedule": view, "start": seg.start, "end": seg.end, "source": seg.source}
                )
    shifts.sort(key=lambda s: s["start"])
    pages = (
        Alert.objects.filter(notifications__context__person=user.pk, status__in=OPEN_STATUSES)
        .distinct()
        .order_by("-first_seen")[:50]
    )
    methods = list(user.contact_methods.all())
    return {
        "my_shifts": shifts,
        "my_pages": list(pages),
        "my_methods": methods,
        "reachable": any(m.verified for m in methods),
    }


# -- feeds ------------------------------------------------------------------------------------
def _ical(body: bytes, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{name}.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


def schedule_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A schedule's calendar. The secret in the address is the only credential: calendar
    apps send no session."""
    schedule = Schedule.objects.filter(feed_token=token).first()
    if schedule is None or not token:
        raise Http404("no such feed")
    return _ical(feeds.schedule_feed(schedule, timezone.now()), "oncall")


def person_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = (
        PersonalFeed.objects.filter(token=token, user__is_active=True)
        .select_related("user")
        .first()
    )
    if feed is None or not token:
        raise Http404("no such feed")
    return _ical(feeds.person_feed(feed.user, timezone.now()), "my-oncall")


# -- answers from Slack and Twilio ------------------------------------------------------------
@csrf_exempt
@require_POST
def slack_interactive(request: HttpRequest) -> HttpResponse:
    """Slack's interactivity request URL: a button in a message to a person."""
    body = request.body
    problem = inbound.check_slack(request.headers, body)
    if problem:
        return JsonResponse({"error": problem}, status=401)
    answer = inbound.slack_action(body, request.POST)
    return JsonResponse({"text": answer.text, "response_type": "ephemeral"}, status=answer.status)


@csrf_exempt
@require_POST
def twilio_sms(request: HttpRequest) -> HttpResponse:
    """Twilio's webhook for a reply to a page sent by SMS."""
    params = {key: request.POST.get(key) for key in request.POST}
    channel = inbound.check_twilio(
        request.path, params, request.headers.get("X-Twilio-Signature", "")
    )
    if channel is None:
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    return HttpResponse(inbound.twiml(inbound.sms_reply(params)), content_type="application/xml")


# -- a responder's own contact methods and overrides ------------------------------------------
def _back(request: HttpRequest, text: str, ok: bool = True) -> HttpResponse:
    (messages.success if ok else messages.error)(request, text)
    return redirect("oncall")


@require_POST
@role_required(Role.RESPONDER)
def my_contact_method_add(request: SignedInRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    address = request.POST.get("address", "").strip()
    if kind not in ContactKind.values:
        return _back(request, "Choose a kind of contact method.", ok=False)
    problem = people.address_problem(kind, address)
    if problem:
        return _back(request, problem[:1].upper() + problem[1:] + ".", ok=False)
    method, created = ContactMethod.objects.get_or_create(
        user=request.user, kind=kind, address=address
    )
    if not created:
        return _back(request, "You have that contact method already.", ok=False)
    problem = people.send_verification(method)
    if problem:
        return _back(request, f"Added, but no test message went out: {problem}.", ok=False)
    return _back(request, "Added. A test message with a code is on its way: enter it below.")


@require_POST
@role_required(Role.RESPONDER)
def my_contact_method_act(request: SignedInRequest, method_id: int, action: str) -> HttpResponse:
    method = get_object_or_404(ContactMethod, pk=method_id, user=request.user)
    if action == "test":
        problem = people.send_verification(method)
        return _back(request, problem or "A test message with a code is on its way.", not problem)
    if action == "verify":
        problem = people.confirm(method, request.POST.get("code", ""))
        if problem:
            return _back(request, problem[:1].upper() + problem[1:] + ".", ok=False)
        return _back(request, f"{method} is verified: pages may use it.")
    if action == "delete":
        method.delete()
        return _back(request, f"{method} removed.")
    raise Http404("no such action")


@require_POST
@role_required(Role.RESPONDER)
def my_override_add(request: SignedInRequest) -> HttpResponse:
    """Cover a window of a schedule yourself (admins set overrides for others in the
    admin or the API)."""
    schedule = get_object_or_404(Schedule, pk=request.POST.get("schedule") or 0)
    view = schedules.load_one(schedule.pk)
    if view is None:
        raise Http404("no such schedule")  # deleted since the lookup above
    tz = view.tz
    try:
        start = datetime.fromisoformat(request.POST.get("start", "")).replace(tzinfo=tz)
        end = datetime.fromisoformat(request.POST.get("end", "")).replace(tzinfo=tz)
    except ValueError:
        return _back(request, "Give a start and an end.", ok=False)
    if end <= start:
        return _back(request, "The override must end after it starts.", ok=False)
    Override.objects.create(
        schedule=schedule, user=request.user, start=start, end=end, created_by=request.user
    )
    return _back(request, f"You cover {schedule.name} from {start:%a %d %b %H:%M} ({tz.key}).")
