from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from alerts import preview, rule_templates, silences
from alerts.configcode import RulesSection
from alerts.constants import INHIBITION_ACTOR, OPEN_STATUSES, EventKind, Status
from alerts.forms import AlertRuleForm, InhibitionRuleForm, SilenceForm
from alerts.models import Alert, AlertEvent, AlertRule, InhibitionRule, RuleState, Silence
from alerts.service import AlertService, AlertStateError
from opsconsole.broken import BrokenFilter, broken_display
from opsconsole.moments import moment
from opsconsole.units import exact_value

PREVIEW_HOURS = [1, 6, 24, 72, 168]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Kind and category are filters on the right; the condition says the rest.
    list_display = [
        "name",
        "watches",
        "condition",
        "severity",
        "enabled",
        "state_now",
        "evaluation",
        "preview_link",
    ]
    list_filter = ["enabled", BrokenFilter, "kind", "severity", "category"]
    readonly_fields = ["evaluation", "targets_now"]

    class Media:
        js = ["js/admin_kinds.js"]

    search_fields = ["name", "metric", "process", "service", "description"]
    actions = ["enable", "disable"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "description", "runbook_url"]}),
        ("What it watches", {"fields": ["metric", "labels", "process", "service", "host"]}),
        (
            "Condition",
            {
                "fields": [
                    "aggregation",
                    "window_seconds",
                    "min_samples",
                    "operator",
                    "threshold",
                    "clear_threshold",
                    "for_seconds",
                ]
            },
        ),
        (
            "The alert it raises",
            {
                "fields": [
                    "severity",
                    "category",
                    "cooldown_seconds",
                    "repeat_interval_seconds",
                    "recommendations",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        # Where the rule stands only when there is something to say.
        fieldsets = list(self.fieldsets)
        if obj is not None and obj.states.exclude(state=RuleState.State.OK).exists():
            fieldsets.insert(0, ("Where it stands now", {"fields": ["targets_now"]}))
        if obj is not None and obj.broken:
            return [("Evaluation", {"fields": ["evaluation"]}), *fieldsets]
        return fieldsets

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_targets=Count("states", filter=Q(states__state=RuleState.State.PENDING)),
                firing_targets=Count("states", filter=Q(states__state=RuleState.State.FIRING)),
            )
        )

    @admin.display(description="now")
    def state_now(self, rule: AlertRule) -> str:
        parts = []
        # Counted by get_queryset()'s annotations.
        if firing := getattr(rule, "firing_targets", 0):
            parts.append(f"firing on {firing}")
        if pending := getattr(rule, "pending_targets", 0):
            parts.append(f"pending on {pending}")
        return ", ".join(parts) or "ok"

    @admin.display(description="targets")
    def targets_now(self, rule: AlertRule):
        now = timezone.now()
        rows = []
        for state in rule.states.exclude(state=RuleState.State.OK).order_by("state", "target")[:50]:
            if state.state == RuleState.State.PENDING:
                left = state.since + timedelta(seconds=rule.for_seconds) - now
                what = (
                    f"pending for {timesince(state.since, now)}; fires in "
                    f"{timesince(now, now + left) if left.total_seconds() > 0 else 'the next pass'}"
                    " unless it gets better"
                )
            else:
                what = f"firing for {timesince(state.since, now)}"
            rows.append((state.target, what, moment(state.since)))
        return format_html(
            "<table><thead><tr><th scope='col'>Target</th><th scope='col'>State</th>"
            "<th scope='col'>Since</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="evaluation")
    def evaluation(self, rule: AlertRule) -> str:
        return broken_display(rule)

    def get_urls(self):
        return [
            path(
                "<int:rule_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="alerts_alertrule_preview",
            ),
            path(
                "templates/",
                self.admin_site.admin_view(self.templates_view),
                name="alerts_alertrule_templates",
            ),
            *super().get_urls(),
        ]

    def templates_view(self, request):
        """Seed 003's domain rules as templates: each enabled in one click (a POST)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_enable = self.has_add_permission(request) and self.has_change_permission(request)
        if request.method == "POST":
            if not can_enable:
                raise PermissionDenied
            key = request.POST.get("template", "")
            if key not in rule_templates.BY_KEY:
                self.message_user(request, "No such template.", level=messages.ERROR)
            else:
                rule, created = rule_templates.enable(key, actor=request.user.get_username())
                self.message_user(
                    request,
                    f"{'Created and enabled' if created else 'Enabled'} the rule {rule.name!r}.",
                )
            return redirect("admin:alerts_alertrule_templates")
        rows = []
        for template in rule_templates.TEMPLATES:
            existing = rule_templates.status(template)
            shown = existing or rule_templates.template_rule(template)
            rows.append(
                {"template": template, "rule": existing, "condition": self.condition(shown)}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Rule templates",
            "rows": rows,
            "can_enable": can_enable,
        }
        return TemplateResponse(request, "admin/alerts/alertrule/templates.html", context)

    @admin.display(description="preview")
    def preview_link(self, rule: AlertRule) -> str:
        return format_html(
            '<a href="{}" title="what it matches now, and a backtest">preview</a>',
            reverse("admin:alerts_alertrule_preview", args=[rule.pk]),
        )

    def preview_view(self, request, rule_id: int):
        """What the rule matches now, and what it would have done over stored history."""
        rule = get_object_or_404(AlertRule, pk=rule_id)
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        try:
            hours = int(request.GET.get("hours", "24"))
        except ValueError:
            hours = 24
        hours = hours if hours in PREVIEW_HOURS else 24
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Preview: {rule.name}",
            "rule": rule,
            "condition": self.condition(rule),
            "clear_threshold": exact_value(rule.clear_threshold, preview.threshold_unit(rule)),
            "hours": hours,
            "hour_choices": PREVIEW_HOURS,
        }
        try:
            context["matches"] = preview.matches_now(rule)
            context["backtest"] = preview.backtest(rule, hours)
        except ValueError as exc:
            context["problem"] = str(exc)
        return TemplateResponse(request, "admin/alerts/alertrule/preview.html", context)

    @admin.display(description="condition")
    def condition(self, rule: AlertRule) -> str:
        if rule.threshold is None:
            return f"no data for {rule.window_seconds} s"
        held = f" for {rule.for_seconds} s" if rule.for_seconds else ""
        threshold = exact_value(rule.threshold, preview.threshold_unit(rule))
        return (
            f"{rule.aggregation} over {rule.window_seconds} s "
            f"{rule.get_operator_display()} {threshold}{held}"
        )

    @admin.display(description="watches")
    def watches(self, rule: AlertRule) -> str:
        what = rule.metric or rule.process or rule.service or "-"
        return f"{what} on {rule.host}" if rule.host else what

    @admin.action(description="Enable selected rules")
    def enable(self, request, queryset):
        with _rule_history().changes(queryset, actor=_actor(request), source="admin"):
            count = queryset.update(enabled=True, updated=timezone.now())
        self.message_user(request, f"Enabled {count} rule(s).")

    @admin.action(description="Disable selected rules")
    def disable(self, request, queryset):
        with _rule_history().changes(queryset, actor=_actor(request), source="admin"):
            count = queryset.update(enabled=False, updated=timezone.now())
        self.message_user(request, f"Disabled {count} rule(s).")

    # Every edit leaves a version (who, when, what changed) in the configuration history.
    def save_model(self, request, obj, form, change):
        with _rule_history().change(obj, actor=_actor(request), source="admin"):
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        with _rule_history().removal(obj, actor=_actor(request), source="admin"):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with _rule_history().removal(queryset, actor=_actor(request), source="admin"):
            super().delete_queryset(request, queryset)


def _actor(request) -> str:
    return request.user.get_username()


def _rule_history() -> RulesSection:
    return RulesSection()


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    fields = readonly_fields = ("created", "kind", "actor", "reason")
    extra = 0
    can_delete = False
    ordering = ["created", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "severity",
        "status",
        "category",
        "resource",
        "notification_count",
        "last_seen",
    ]
    list_filter = ["status", "severity", "category", "rule"]
    search_fields = ["title", "message", "resource", "alert_type", "fingerprint"]
    date_hierarchy = "first_seen"
    inlines = [AlertEventInline]
    actions = ["acknowledge", "resolve"]
    readonly_fields = [f.name for f in Alert._meta.fields]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "message",
                    ("severity", "category", "status"),
                    ("resource", "value", "threshold"),
                    ("notification_count", "first_seen", "last_seen"),
                ]
            },
        ),
        (
            "Diagnostics",
            {
                "fields": [
                    "recommendations",
                    "metadata",
                    "labels",
                    ("affected_users", "error_count"),
                    "related_logs",
                ]
            },
        ),
        ("Stack trace", {"fields": ["stack_trace"], "classes": ["collapse"]}),
        (
            "Lifecycle",
            {
                "fields": [
                    ("acknowledged_by", "acknowledged_at"),
                    "acknowledge_notes",
                    ("resolved_by", "resolved_at"),
                    "resolution_notes",
                    ("suppressed_by", "suppressed_at", "suppressed_until"),
                    "suppressed_reason",
                    "expires_at",
                ]
            },
        ),
        ("Identity", {"fields": ["alert_type", "fingerprint", "rule"], "classes": ["collapse"]}),
    ]

    def has_add_permission(self, request):
        return False

    def _act(self, request, queryset, verb: str):
        service = AlertService()
        done, refused = 0, []
        actor = request.user.get_username()
        note = "from the admin"
        for alert in queryset.filter(status__in=OPEN_STATUSES):
            try:
                if verb == "acknowledge":
                    service.acknowledge_alert(alert.pk, acknowledged_by=actor, notes=note)
                else:
                    service.resolve_alert(alert.pk, resolved_by=actor, resolution_notes=note)
                done += 1
            except AlertStateError as exc:
                refused.append(str(exc))
        skipped = queryset.exclude(status__in=OPEN_STATUSES).count()
        self.message_user(request, f"{verb.capitalize()}d {done} alert(s).")
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} alert(s) that were not open.", messages.WARNING
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request, queryset):
        self._act(request, queryset.exclude(status=Status.ACKNOWLEDGED), "acknowledge")

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        self._act(request, queryset, "resolve")


class SilenceStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("pending", "Pending"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        if self.value() in Silence.STATES:
            return queryset.in_state(self.value(), timezone.now())
        return queryset


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    # Start and end are in the state column ("pending, starts in 2 hours").
    list_display = ["__str__", "state_display", "mutes", "window", "created_by"]
    list_filter = [SilenceStateFilter]
    ordering = ["-ends_at"]

    @admin.display(description="mutes")
    def mutes(self, silence: Silence) -> str:
        return silences.describe_matchers(silence.matchers)

    @admin.display(description="when")
    def window(self, silence: Silence) -> str:
        return silences.describe_window(silence.recurrence)

    search_fields = ["comment"]

    @admin.display(description="state")
    def state_display(self, silence: Silence) -> str:
        now = timezone.now()
        state = silence.state(now)
        if state == "active":
            # A weekly window mutes only inside its hours: say when it is not muting.
            muting = "" if silence.is_active(now) else " (outside its weekly window now)"
            return f"active{muting}, ends in {timesince(now, silence.ends_at)}"
        if state == "pending":
            return f"pending, starts in {timesince(now, silence.starts_at)}"
        return f"expired {timesince(silence.ends_at, now)} ago"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class HoldingFilter(admin.SimpleListFilter):
    title = "holding back"
    parameter_name = "holding"

    def lookups(self, request, model_admin):
        return [("yes", "Alerts now"), ("no", "Nothing now")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        ids = _holding_counts().keys()
        if self.value() == "yes":
            return queryset.filter(pk__in=ids)
        return queryset.exclude(pk__in=ids)


def _holding_counts() -> dict[int, int]:
    """Per rule, how many open alerts it holds back now: the rule of each inhibited
    alert's latest hold, from the timeline (one query over the held alerts' holds)."""
    latest: dict[int, int] = {}
    holds = (
        AlertEvent.objects.filter(
            alert__status=Status.SUPPRESSED,
            alert__suppressed_by=INHIBITION_ACTOR,
            kind=EventKind.SILENCED,
        )
        .order_by("id")
        .values_list("alert_id", "data")
    )
    for alert_id, data in holds:
        if isinstance(data, dict) and data.get("rule") is not None:
            latest[alert_id] = data["rule"]
    return dict(Counter(latest.values()))


@admin.register(InhibitionRule)
class InhibitionRuleAdmin(admin.ModelAdmin):
    form = InhibitionRuleForm
    list_display = ["name", "enabled", "sources", "targets", "equal_fields", "holding"]
    list_filter = ["enabled", HoldingFilter]
    search_fields = ["name", "description"]
    actions = ["enable", "disable"]

    def get_queryset(self, request):
        self._counts = _holding_counts()
        return super().get_queryset(request)

    @admin.display(description="source (open alert)")
    def sources(self, rule: InhibitionRule) -> str:
        return silences.describe_matchers(rule.source_matchers)

    @admin.display(description="holds back")
    def targets(self, rule: InhibitionRule) -> str:
        return silences.describe_matchers(rule.target_matchers) or "every alert"

    @admin.display(description="equal")
    def equal_fields(self, rule: InhibitionRule) -> str:
        return ", ".join(rule.equal) or "—"

    @admin.display(description="holding now")
    def holding(self, rule: InhibitionRule) -> int:
        return getattr(self, "_counts", {}).get(rule.pk, 0)

    @admin.action(description="Enable selected rules")
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected rules")
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        # Saved one by one, so the audit stream and the policies' copy hear of each.
        changed = 0
        for rule in queryset.exclude(enabled=enabled):
            rule.enabled = enabled
            rule.save(update_fields=["enabled", "updated"])
            changed += 1
        self.message_user(request, f"{'En' if enabled else 'Dis'}abled {changed} rule(s).")
