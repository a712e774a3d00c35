from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.db import models

from alerts.constants import OPEN_STATUSES, Status
from alerts.models import Alert, AlertEvent, AlertRule, Silence
from alerts.service import AlertService, AlertStateError
from metrics.catalog import KNOWN, parse_key
from metrics.models import Metric

METRIC_KINDS = {
    AlertRule.Kind.SYSTEM_METRIC,
    AlertRule.Kind.CUSTOM_METRIC,
    AlertRule.Kind.ABSENCE,
    AlertRule.Kind.LATENCY,
    AlertRule.Kind.TREND,
}
# A quantified group that is itself quantified, e.g. (a+)+ or (\w*)*: the shape of
# patterns whose matching time explodes on near-misses.
_NESTED_QUANTIFIER = re.compile(r"\([^)]*[+*][^)]*\)\s*[+*{]")


def check_pattern(pattern: str) -> str:
    """A regex an operator may use in a matcher; ValueError with the reason if not."""
    if len(pattern) > 200:
        raise ValueError("a pattern may be at most 200 characters")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(
            "nested repetition such as (a+)+ can take exponential time; rewrite it without"
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return pattern


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


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "kind",
        "metric",
        "condition",
        "severity",
        "category",
        "for_seconds",
        "enabled",
    ]
    list_filter = ["enabled", "kind", "severity", "category"]
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

    @admin.display(description="condition")
    def condition(self, rule: AlertRule) -> str:
        if rule.threshold is None:
            return f"no data for {rule.window_seconds} s"
        return (
            f"{rule.aggregation} over {rule.window_seconds} s "
            f"{rule.get_operator_display()} {rule.threshold:g}"
        )

    @admin.action(description="Enable selected rules")
    def enable(self, request, queryset):
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} rule(s).")

    @admin.action(description="Disable selected rules")
    def disable(self, request, queryset):
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} rule(s).")


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

    def clean_matchers(self):
        matchers = self.cleaned_data["matchers"]
        if not isinstance(matchers, list) or not matchers:
            raise forms.ValidationError("Give at least one matcher, as a JSON list.")
        for index, matcher in enumerate(matchers, 1):
            if not isinstance(matcher, dict) or not {"field", "value"} <= set(matcher):
                raise forms.ValidationError(
                    f'Matcher {index} needs "field" and "value" (and "op": eq or regex).'
                )
            field, op = str(matcher["field"]), matcher.get("op", "eq")
            if field not in {"alert_type", "resource", "severity", "category"} and not (
                field.startswith("label:") and len(field) > 6
            ):
                raise forms.ValidationError(
                    f"Matcher {index}: unknown field {field!r} (alert_type, resource, "
                    "severity, category, or label:<name>)."
                )
            if op not in {"eq", "regex"}:
                raise forms.ValidationError(f"Matcher {index}: op must be eq or regex.")
            if op == "regex":
                try:
                    check_pattern(str(matcher["value"]))
                except ValueError as exc:
                    raise forms.ValidationError(f"Matcher {index}: {exc}") from None
        return matchers

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "A silence must end after it starts.")
        return data


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ["__str__", "starts_at", "ends_at", "created_by"]
    search_fields = ["comment"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# Channels, routing rules and the delivery log register themselves on import.
from alerts import notification_admin  # noqa: E402, F401
