from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from django.contrib import admin, messages

from healthchecks.forms import ServiceEndpointForm
from healthchecks.models import CheckResult, Flip, LatencySample, ServiceEndpoint
from healthchecks.runner import run_checks
from healthchecks.state import disable
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


def _masked(entry: str | Sequence[str]) -> str | list[str]:
    """A fieldset's entry, one field or a row of them, with each secret field masked."""
    if isinstance(entry, str):
        return _MASKED_FOR_VIEWERS.get(entry, entry)
    return [_MASKED_FOR_VIEWERS.get(name, name) for name in entry]


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
                {**options, "fields": [_masked(entry) for entry in options["fields"]]},
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
