from __future__ import annotations

import json
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages

from healthchecks.constants import Kind
from healthchecks.models import CheckResult, Flip, LatencySample, ServiceEndpoint
from healthchecks.runner import run_checks
from healthchecks.state import disable
from healthchecks.validation import endpoint_errors
from metrics.models import Host
from opsconsole.broken import BrokenFilter, broken_display
from opsconsole.moments import moment
from opsconsole.scrubbing import Scrubber

MASK = "••••••"
# Fields whose values are credentials, and what view-only staff see in their place.
_MASKED_FOR_VIEWERS = {
    "target": "masked_target",
    "http_headers": "masked_http_headers",
    "recovery_webhook_url": "masked_recovery_webhook_url",
}


class ServiceEndpointForm(forms.ModelForm):
    # A webhook typed without a scheme is taken as https.
    recovery_webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=200,
        help_text=ServiceEndpoint._meta.get_field("recovery_webhook_url").help_text,
    )

    # Named by hostname everywhere (the admin's select, the API, configuration files),
    # from the hosts the console knows: those that reported at least once.
    host = forms.ModelChoiceField(
        queryset=Host.objects.order_by("hostname"),
        to_field_name="hostname",
        required=False,
        help_text=ServiceEndpoint._meta.get_field("host").help_text,
        error_messages={
            "invalid_choice": "no host named %(value)s: pick one of the hosts that "
            "report to the console (an agent's host, or the console's own)"
        },
    )

    class Meta:
        model = ServiceEndpoint
        fields = [
            "name", "kind", "target", "enabled", "tags", "parent", "host", "severity",
            "interval_seconds", "timeout_seconds", "retries", "max_response_time_ms",
            "http_method", "http_headers", "accepted_status_codes", "expect_keyword",
            "expect_json_path", "expect_json_value", "follow_redirects",
            "tls_expiry_warning_days", "period_seconds", "cron", "grace_seconds", "time_zone",
            "recovery_webhook_url", "recovery_after_failures", "recovery_actions",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            # A heartbeat is pinged, not probed: no timeout, no response time.
            probed = [k for k in Kind.values if k != Kind.HEARTBEAT]
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(
                {"timeout_seconds": probed, "max_response_time_ms": probed}
            )

    def save(self, commit=True):
        # An edit is the fix for a broken endpoint: the scheduler claims it again, and
        # marks it anew if it still cannot be checked.
        self.instance.broken_reason, self.instance.broken_since = "", None
        return super().save(commit)

    def clean(self):
        data = super().clean()
        for field, message in endpoint_errors(data).items():
            self.add_error(field if field in self.fields else None, message)
        parent = data.get("parent")
        if parent is not None and self.instance.pk:
            seen = {self.instance.pk}
            while parent is not None:
                if parent.pk in seen:
                    self.add_error("parent", "this would make a dependency loop")
                    break
                seen.add(parent.pk)
                parent = parent.parent
        return data


class OriginFilter(admin.SimpleListFilter):
    title = "origin"
    parameter_name = "origin"

    def lookups(self, request, model_admin):
        return [
            ("admin", "made in the admin"),
            ("environment", "SERVICE_ENDPOINTS"),
            ("removed", "no longer in SERVICE_ENDPOINTS"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "admin":
            return queryset.filter(from_environment=False)
        if self.value() == "environment":
            return queryset.filter(from_environment=True, removed_from_environment__isnull=True)
        if self.value() == "removed":
            return queryset.filter(removed_from_environment__isnull=False)
        return queryset


@admin.register(ServiceEndpoint)
class ServiceEndpointAdmin(admin.ModelAdmin):
    form = ServiceEndpointForm

    class Media:
        js = ["js/admin_kinds.js"]

    list_display = (
        "name",
        "kind",
        "target",
        "state",
        "response_time",
        "last_checked",
        "interval_seconds",
        "enabled",
        "scheduling",
    )
    list_filter = ("state", "kind", "enabled", BrokenFilter, OriginFilter)
    search_fields = ("name", "target")
    actions = ["check_now", "enable", "disable"]
    readonly_fields = (
        "state",
        "state_since",
        "consecutive_failures",
        "last_checked",
        "response_time",
        "last_error",
        "ping_uuid",
        "last_ping",
        "last_duration_ms",
        "next_check_at",
        "origin",
        "scheduling",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "kind",
                    "target",
                    "enabled",
                    "origin",
                    "tags",
                    "parent",
                    "host",
                    "severity",
                )
            },
        ),
        (
            "Schedule",
            {"fields": ("interval_seconds", "timeout_seconds", "retries", "max_response_time_ms")},
        ),
        (
            "HTTP",
            {
                # Shown for HTTP endpoints only (static/js/admin_kinds.js).
                "classes": ("collapse", "kind-settings", "kind-http"),
                "fields": (
                    "http_method",
                    "http_headers",
                    "accepted_status_codes",
                    "expect_keyword",
                    "expect_json_path",
                    "expect_json_value",
                    "follow_redirects",
                    "tls_expiry_warning_days",
                ),
            },
        ),
        (
            "Heartbeat",
            {
                "classes": ("collapse", "kind-settings", "kind-heartbeat"),
                "fields": (
                    "ping_uuid",
                    "period_seconds",
                    "cron",
                    "grace_seconds",
                    "time_zone",
                    "last_ping",
                    "last_duration_ms",
                ),
            },
        ),
        (
            "Recovery",
            {
                "classes": ("collapse",),
                "fields": ("recovery_webhook_url", "recovery_after_failures", "recovery_actions"),
            },
        ),
        (
            "State",
            {
                "fields": (
                    "state",
                    "state_since",
                    "consecutive_failures",
                    "last_checked",
                    "response_time",
                    "last_error",
                    "next_check_at",
                    "scheduling",
                )
            },
        ),
    )

    # Staff who may only view (the Viewers group) read every field of the page; the
    # headers (an Authorization header), the recovery hook (a restart URL with its
    # token) and a target's password are shown masked to them. Editors see the fields.
    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                name,
                {**options, "fields": [_MASKED_FOR_VIEWERS.get(f, f) for f in options["fields"]]},
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields += tuple(_MASKED_FOR_VIEWERS.values())
        return fields

    @admin.display(description="Target")
    def masked_target(self, endpoint):
        return Scrubber().command_line(endpoint.target)  # the password, not the user

    @admin.display(description="HTTP headers")
    def masked_http_headers(self, endpoint):
        # Every value: which header carries a credential is the service's choice.
        return ", ".join(f"{name}: {MASK}" for name in endpoint.http_headers or {}) or "—"

    @admin.display(description="Recovery webhook url")
    def masked_recovery_webhook_url(self, endpoint):
        if not endpoint.recovery_webhook_url:
            return "—"
        parts = urlsplit(endpoint.recovery_webhook_url)
        return f"{parts.scheme}://{parts.hostname or ''}/{MASK}"

    @admin.action(description="Check now")
    def check_now(self, request, queryset):
        cycle = run_checks(list(queryset.values_list("pk", flat=True)))
        states = ", ".join(f"{e.name}: {e.state}" for e, _ in cycle.results)
        self.message_user(request, f"Checked {cycle.checked} endpoint(s). {states}")
        if cycle.checked < queryset.count():
            self.message_user(request, "Disabled endpoints were not checked.", messages.WARNING)

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} endpoint(s).")

    @admin.display(description="Last response time", ordering="last_response_ms")
    def response_time(self, endpoint):
        if endpoint.last_response_ms is None:
            return "—"
        return f"{endpoint.last_response_ms:,.1f} ms"

    @admin.display(description="scheduling")
    def scheduling(self, endpoint):
        return broken_display(endpoint)

    @admin.display(description="Origin")
    def origin(self, endpoint):
        if not endpoint.from_environment:
            return "made in the admin"
        if endpoint.removed_from_environment:
            when = moment(endpoint.removed_from_environment)
            return f"SERVICE_ENDPOINTS, which stopped naming it on {when}: disabled then"
        return "SERVICE_ENDPOINTS: a restart puts back what the variable says"

    @admin.action(description="Disable (resolves their alerts)")
    def disable(self, request, queryset):
        done = disable(list(queryset.filter(enabled=True)), actor=request.user.get_username())
        self.message_user(request, f"Disabled {done} endpoint(s).")


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CheckResult)
class CheckResultAdmin(_ReadOnly):
    list_display = ("endpoint", "time", "outcome", "response_ms", "status_code", "error")
    list_filter = ("outcome",)
    list_select_related = ("endpoint",)


@admin.register(Flip)
class FlipAdmin(_ReadOnly):
    list_display = ("endpoint", "time", "old_state", "new_state", "reason")
    list_select_related = ("endpoint",)


@admin.register(LatencySample)
class LatencySampleAdmin(_ReadOnly):
    list_display = ("source", "time", "latency_ms")
    list_filter = ("source",)
