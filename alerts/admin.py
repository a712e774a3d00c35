from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.timesince import timesince

from alerts import inhibition, preview, rule_templates, silences
from alerts.constants import INHIBITION_ACTOR, OPEN_STATUSES, EventKind, Status
from alerts.models import Alert, AlertEvent, AlertRule, InhibitionRule, RuleState, Silence
from alerts.service import AlertService, AlertStateError
from metrics.catalog import KNOWN, parse_key
from metrics.models import Metric
from opsconsole.broken import BrokenFilter, broken_display
from opsconsole.moments import moment
from opsconsole.units import exact_value

METRIC_KINDS = {
    AlertRule.Kind.SYSTEM_METRIC,
    AlertRule.Kind.CUSTOM_METRIC,
    AlertRule.Kind.ABSENCE,
    AlertRule.Kind.LATENCY,
    AlertRule.Kind.TREND,
}


def _formfield(field, **kwargs):
    # A runbook link typed without a scheme is taken as https.
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        formfield_callback = _formfield
        fields = [
            "name",
            "kind",
            "enabled",
            "description",
            "runbook_url",
            "metric",
            "labels",
            "process",
            "service",
            "host",
            "aggregation",
            "window_seconds",
            "min_samples",
            "operator",
            "threshold",
            "clear_threshold",
            "for_seconds",
            "severity",
            "category",
            "cooldown_seconds",
            "repeat_interval_seconds",
            "recommendations",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(KIND_FIELDS)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        metric = (data.get("metric") or "").strip()
        if kind in METRIC_KINDS:
            if not metric:
                self.add_error("metric", "This kind of rule needs a metric name.")
            else:
                try:
                    name, _ = parse_key(metric)
                except ValueError as exc:
                    self.add_error("metric", str(exc))
                else:
                    if (
                        kind != AlertRule.Kind.CUSTOM_METRIC
                        and name not in KNOWN
                        and not Metric.objects.filter(name=name).exists()
                    ):
                        known = ", ".join(
                            Metric.objects.values_list("name", flat=True).distinct()[:8]
                        )
                        self.add_error(
                            "metric",
                            f"No metric named {name!r} has been collected"
                            + (f" (known: {known}…)" if known else "")
                            + "; choose the custom metric kind for one pushed later.",
                        )
        if kind == AlertRule.Kind.PROCESS_METRIC and not data.get("process"):
            self.add_error("process", "A process rule needs the process name to watch.")
        if kind == AlertRule.Kind.SERVICE_HEALTH and not data.get("service"):
            self.add_error("service", "A service health rule needs the service endpoint.")
        if kind != AlertRule.Kind.ABSENCE and data.get("threshold") is None:
            self.add_error("threshold", "This kind of rule needs a threshold.")
        threshold, clear = data.get("threshold"), data.get("clear_threshold")
        operator = data.get("operator")
        if threshold is not None and clear is not None:
            above = operator in (AlertRule.Operator.GT, AlertRule.Operator.GTE)
            below = operator in (AlertRule.Operator.LT, AlertRule.Operator.LTE)
            if (above and clear > threshold) or (below and clear < threshold):
                self.add_error(
                    "clear_threshold",
                    "The clear threshold must lie on the healthy side of the threshold "
                    f"({'at or below' if above else 'at or above'} {threshold:g}).",
                )
        labels = data.get("labels")
        if labels is not None and not (
            isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
        ):
            self.add_error("labels", 'Labels are a JSON object of strings: {"mount": "/"}.')
        return data


# The fields each rule kind reads (the others are hidden by static/js/admin_kinds.js).
_METRIC = [k.value for k in METRIC_KINDS]
_ALL = list(AlertRule.Kind.values)
KIND_FIELDS = {
    "metric": _METRIC,
    "labels": _METRIC,
    "process": [AlertRule.Kind.PROCESS_METRIC],
    "service": [AlertRule.Kind.SERVICE_HEALTH],
    "host": [k for k in _ALL if k != AlertRule.Kind.SERVICE_HEALTH],
    "aggregation": [
        k for k in _ALL if k not in (AlertRule.Kind.ABSENCE, AlertRule.Kind.SERVICE_HEALTH)
    ],
    "operator": [k for k in _ALL if k != AlertRule.Kind.ABSENCE],
    "threshold": [k for k in _ALL if k != AlertRule.Kind.ABSENCE],
    "clear_threshold": [k for k in _ALL if k != AlertRule.Kind.ABSENCE],
}


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
        if getattr(rule, "firing_targets", 0):
            parts.append(f"firing on {rule.firing_targets}")
        if getattr(rule, "pending_targets", 0):
            parts.append(f"pending on {rule.pending_targets}")
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
            rule = rule_templates.status(template)
            shown = rule or rule_templates.template_rule(template)
            rows.append({"template": template, "rule": rule, "condition": self.condition(shown)})
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
        self._baseline_all(queryset)
        count = queryset.update(enabled=True, updated=timezone.now())
        self._record_all(request, queryset)
        self.message_user(request, f"Enabled {count} rule(s).")

    @admin.action(description="Disable selected rules")
    def disable(self, request, queryset):
        self._baseline_all(queryset)
        count = queryset.update(enabled=False, updated=timezone.now())
        self._record_all(request, queryset)
        self.message_user(request, f"Disabled {count} rule(s).")

    # Every edit leaves a version (who, when, what changed) in the configuration history.
    def save_model(self, request, obj, form, change):
        stored = AlertRule.objects.filter(pk=obj.pk).first() if change else None
        if stored is not None:
            _rule_history().baseline_of(stored)
        super().save_model(request, obj, form, change)
        _rule_history().record(obj, actor=request.user.get_username(), source="admin")

    def delete_model(self, request, obj):
        _rule_history().record(obj, actor=request.user.get_username(), source="admin", deleted=True)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            _rule_history().record(
                rule, actor=request.user.get_username(), source="admin", deleted=True
            )
        super().delete_queryset(request, queryset)

    def _baseline_all(self, queryset):
        for rule in queryset:
            _rule_history().baseline_of(rule)

    def _record_all(self, request, queryset):
        for rule in queryset.model.objects.filter(pk__in=queryset.values("pk")):
            _rule_history().record(rule, actor=request.user.get_username(), source="admin")


def _rule_history():
    # alerts.configcode builds on this module's forms: imported when first needed.
    from alerts.configcode import RulesSection

    return RulesSection()


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    fields = ["created", "kind", "actor", "reason"]
    readonly_fields = fields
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


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ["matchers", "starts_at", "ends_at", "recurrence", "comment"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "matchers" in self.fields:
            # The inhibition rules' 'field = value' lines, not a JSON list.
            self.fields["matchers"] = MatchersField(
                allow_empty=False,
                label="Matchers",
                help_text="One per line: severity = critical, resource =~ db-.*, "
                "label:team = payments. All must match.",
            )
        for name in ("starts_at", "ends_at"):
            # The admin's date and time boxes have one <label> for both: each says which.
            widget = self.fields[name].widget if name in self.fields else None
            for part, word in zip(getattr(widget, "widgets", ()), ("date", "time"), strict=False):
                part.attrs["aria-label"] = f"{self.fields[name].label}: {word}"

    def clean_matchers(self):
        try:
            return silences.check_matchers(self.cleaned_data["matchers"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_recurrence(self):
        try:
            return silences.check_recurrence(self.cleaned_data["recurrence"])
        except ValueError as exc:
            raise forms.ValidationError(f"Weekly window: {exc}.") from None

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "A silence must end after it starts.")
        return data


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
            return f"active, ends in {timesince(now, silence.ends_at)}"
        if state == "pending":
            return f"pending, starts in {timesince(now, silence.starts_at)}"
        return f"expired {timesince(silence.ends_at, now)} ago"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# -- inhibition rules ---------------------------------------------------------------------
class MatchersField(forms.CharField):
    """Matchers as lines of text in the admin (``severity = critical``, ``resource =~
    db-.*``), a list of ``{field, op, value}`` everywhere else (the API and files hand
    the list itself)."""

    def __init__(self, *, allow_empty: bool, **kwargs):
        self.allow_empty = allow_empty
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "matchers"})
        )
        super().__init__(required=not allow_empty, strip=False, **kwargs)

    def prepare_value(self, value):
        return inhibition.matchers_to_text(value) if isinstance(value, list) else value

    def to_python(self, value):
        try:
            if isinstance(value, str) and value.lstrip().startswith("["):
                # A JSON list (as the API and files write them) is read as such.
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"Not a JSON list of matchers: {exc.msg}.") from None
            matchers = value if isinstance(value, list) else inhibition.matchers_from_text(value)
            silences.check_matchers(matchers, allow_empty=self.allow_empty)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        # Stored in one shape whatever the input left out, so files and the API compare.
        return [
            {"field": str(m["field"]), "op": m.get("op", "eq"), "value": str(m["value"])}
            for m in matchers
        ]

    def validate(self, value):
        if not value and not self.allow_empty:
            raise forms.ValidationError("Give at least one matcher.", code="required")

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


class EqualField(forms.CharField):
    """``equal`` as field names separated by commas in the admin, a list elsewhere."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        if not isinstance(value, list):
            value = [name for name in str(value or "").replace(",", " ").split() if name]
        try:
            return inhibition.check_equal(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


MATCHER_HELP = (
    "One matcher a line: <code>field = value</code> or <code>field =~ pattern</code> "
    "(RE2, the whole value). Fields: " + escape(silences.FIELD_HELP) + "."
)


class InhibitionRuleForm(forms.ModelForm):
    source_matchers = MatchersField(
        allow_empty=False,
        help_text=MATCHER_HELP + " What the inhibiting alert matches.",
    )
    target_matchers = MatchersField(
        allow_empty=True,
        help_text="What the alerts it holds back match; empty: every alert.",
    )
    equal = EqualField(
        help_text="Fields both alerts must share, with the same value, e.g. "
        "<code>resource</code> or <code>resource, label:mount</code>; empty: any.",
    )

    class Meta:
        model = InhibitionRule
        fields = ["name", "enabled", "source_matchers", "target_matchers", "equal", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 60})}


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
