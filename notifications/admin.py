"""Channels (secrets masked, a "send test" action), routing rules, and the read-only
delivery log with a "resend" action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from notifications.channels import (
    secret_names,
)
from notifications.configcode import routing_history
from notifications.delivery import resend, send_test
from notifications.forms import LabelledRowForm, NotificationChannelForm, RoutingRuleForm
from notifications.gaps import routing_gaps
from notifications.grouping import open_groups
from notifications.models import (
    ChannelKind,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
)
from opsconsole.moments import moment


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = [
        "name",
        "kind",
        "enabled",
        "min_severity",
        "send_resolved",
        "masked_secrets",
        "health",
    ]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    actions = ["send_test_message", "enable", "disable"]
    readonly_fields = [
        "masked_secrets",
        "config",
        "consecutive_failures",
        "circuit_open_until",
        "next_send_at",
    ]

    class Media:
        js = ["js/admin_kinds.js"]

    def get_fieldsets(self, request, obj=None):
        state = ["masked_secrets", "consecutive_failures", "circuit_open_until", "next_send_at"]
        main = ["name", "kind", "enabled", "min_severity", "send_resolved", "rate_limit_per_minute"]
        if not self.has_change_permission(request, obj):
            return [(None, {"fields": main}), ("Settings", {"fields": ["config", *state]})]
        fieldsets: list[tuple[str | None, dict[str, list[str]]]] = [(None, {"fields": main})]
        form = self.get_form(request, obj)(instance=obj)
        for kind, names in getattr(form, "kind_groups", []):
            fieldsets.append(
                (
                    f"{ChannelKind(kind).label} settings",
                    {"fields": names, "classes": ["kind-settings", f"kind-{kind}"]},
                )
            )
        if obj is not None:
            fieldsets.append(("State", {"fields": state}))
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The typed fields are the form's own, not model fields: declared to the admin
        # as none, so it builds the form from Meta and leaves them be.
        if self.has_change_permission(request, obj):
            kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)

    def get_urls(self):
        return [
            path(
                "<int:channel_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="notifications_notificationchannel_test",
            ),
            *super().get_urls(),
        ]

    def test_view(self, request, channel_id: int):
        """The channel page's "Send a test message" button (a POST)."""
        channel = get_object_or_404(NotificationChannel, pk=channel_id)
        if request.method != "POST" or not self.has_change_permission(request, channel):
            raise PermissionDenied
        self._report_test(request, channel)
        return redirect(
            reverse("admin:notifications_notificationchannel_change", args=[channel.pk])
        )

    def _report_test(self, request, channel: NotificationChannel) -> None:
        record = send_test(channel)
        code = f" (HTTP {record.response_code})" if record.response_code else ""
        if record.status == DeliveryStatus.SENT:
            self.message_user(request, f"Test message to {channel.name}: sent{code}.")
        else:
            self.message_user(
                request,
                f"Test message to {channel.name}: failed{code}: {record.last_error}",
                messages.ERROR,
            )

    def changelist_view(self, request, extra_context=None):
        extra = {"routing_gaps": routing_gaps(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description="secrets")
    def masked_secrets(self, channel: NotificationChannel) -> str:
        return ", ".join(f"{name} ••••••" for name in secret_names(channel)) or "—"

    @admin.display(description="health")
    def health(self, channel: NotificationChannel) -> str:
        if channel.circuit_open_until:
            return f"circuit open until {moment(channel.circuit_open_until)}"
        if channel.consecutive_failures:
            return f"{channel.consecutive_failures} failure(s) in a row"
        return "ok"

    @admin.action(description="Send a test message")
    def send_test_message(self, request, queryset):
        for channel in queryset:
            self._report_test(request, channel)

    @admin.action(description="Enable selected channels")
    def enable(self, request, queryset):
        self.message_user(request, f"Enabled {_set_enabled(queryset, True)} channel(s).")

    @admin.action(description="Disable selected channels")
    def disable(self, request, queryset):
        self.message_user(request, f"Disabled {_set_enabled(queryset, False)} channel(s).")


def _set_enabled(queryset, enabled: bool) -> int:
    # Saved one by one, not updated in bulk, so each change reaches the audit stream.
    changed = 0
    for channel in queryset.exclude(enabled=enabled):
        channel.enabled = enabled
        channel.save(update_fields=["enabled", "updated"])
        changed += 1
    return changed


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = ["name", "position", "enabled", "matches", "targets", "grouping"]
    list_editable = ["position", "enabled"]
    readonly_fields = ["groups_now"]
    fieldsets = [
        (None, {"fields": ["name", "position", "enabled"]}),
        ("Which alerts", {"fields": ["severities", "categories", "label_matchers"]}),
        ("Where to", {"fields": ["channel_kinds", "all_channels", "channels"]}),
        (
            "Grouping",
            {
                "fields": ["group_by", "group_wait", "group_interval", "repeat_interval"],
                "description": "Alerts with the same values of these fields go out together: "
                "the first message waits group_wait for others, later changes go out at "
                "most every group_interval, and a group still firing unacknowledged is "
                "sent again after repeat_interval.",
            },
        ),
        ("Groups now", {"fields": ["groups_now"]}),
    ]

    @admin.display(description="grouping")
    def grouping(self, rule: RoutingRule) -> str:
        if not rule.grouped:
            return "none (one message per alert)"
        by = ", ".join(rule.group_by) or "everything together"
        return f"by {by}; wait {duration(rule.group_wait)}, every {duration(rule.group_interval)}"

    @admin.display(description="open groups")
    def groups_now(self, rule: RoutingRule):
        if rule.pk is None:
            return "—"
        groups = list(open_groups(rule)[:50])
        if not groups:
            return "No open groups: no alert this rule routes is firing."
        now = timezone.now()
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    ", ".join(f"{k}={v}" for k, v in sorted(g.labels.items())) or "all alerts",
                    format_html(
                        '<a href="{}">{} firing</a> of {}',
                        f"/alerts/?group={g.pk}",
                        g.firing,
                        g.total,
                    ),
                    when(g.last_sent_at, now, "never"),
                    next_message(g.next_flush_at, now),
                    g.flushes,
                )
                for g in groups
            ),
        )
        return format_html(
            '<div class="groups-now-wrap"><table class="groups-now"><thead>'
            '<tr><th scope="col">Group</th>'
            '<th scope="col">Alerts</th><th scope="col">Last message</th>'
            '<th scope="col">Next message</th><th scope="col">Messages sent</th></tr>'
            "</thead><tbody>{}</tbody></table></div>",
            rows,
        )

    @admin.display(description="matches")
    def matches(self, rule: RoutingRule) -> str:
        parts = [
            "/".join(rule.severities) or "any severity",
            "/".join(rule.categories) or "any category",
        ]
        if rule.label_matchers:
            parts.append(", ".join(f"{k}={v}" for k, v in rule.label_matchers.items()))
        return ", ".join(parts)

    @admin.display(description="sends to")
    def targets(self, rule: RoutingRule) -> str:
        if rule.all_channels:
            return "every channel"
        names = [*rule.channel_kinds, *(c.name for c in rule.channels.all())]
        return ", ".join(names) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("channels")

    def get_changelist_form(self, request, **kwargs):
        return LabelledRowForm

    def changelist_view(self, request, extra_context=None):
        extra = {"routing_gaps": routing_gaps(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    # Every edit leaves a version (who, when, what changed) in the configuration history,
    # taken once the channels are in place: the admin saves the rule and then its
    # channels (right after, in the same request), so both are saved in save_related.
    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        actor = request.user.get_username()
        with routing_history().change(form.instance, actor=actor, source="admin"):
            super().save_model(request, form.instance, form, change)
            super().save_related(request, form, formsets, change)

    def delete_model(self, request, obj):
        with routing_history().removal(obj, actor=request.user.get_username(), source="admin"):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        actor = request.user.get_username()
        with routing_history().removal(queryset, actor=actor, source="admin"):
            super().delete_queryset(request, queryset)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The delivery log: what was sent where, how many attempts, the last answer."""

    list_display = [
        "created",
        "channel_name",
        "alert_link",
        "transition",
        "status",
        "attempts",
        "response_code",
        "short_error",
    ]
    list_filter = ["status", "transition", "channel"]
    search_fields = ["idempotency_key", "alert__title", "last_error"]
    date_hierarchy = "created"
    list_select_related = ["channel", "alert"]
    actions = ["resend_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="channel", ordering="channel__name")
    def channel_name(self, notification: Notification) -> str:
        return notification.channel.name

    @admin.display(description="alert")
    def alert_link(self, notification: Notification):
        if notification.alert is None:
            return "—"
        return format_html(
            '<a href="../alert/{}/change/">#{}</a> {}',
            notification.alert_id,
            notification.alert_id,
            notification.alert.title[:40],
        )

    @admin.display(description="last error")
    def short_error(self, notification: Notification) -> str:
        return notification.last_error[:60]

    @admin.action(description="Resend selected messages", permissions=["change"])
    def resend_selected(self, request, queryset):
        count = resend(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} message(s) queued to be sent again.")


def duration(seconds: int) -> str:
    """'30 s', '5 min', '4 h', '1 h 30 min'."""
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def when(at, now, empty: str) -> str:
    if at is None:
        return empty
    return f"{moment(at)} ({duration(int((now - at).total_seconds()))} ago)"


def next_message(at, now) -> str:
    """When a group next sends: 'in 3 min 12 s', or why it does not."""
    if at is None:
        return "none due (only held alerts)"
    left = int((at - now).total_seconds())
    if left <= 0:
        return "due now"
    return f"in {duration(left)} ({moment(at)})"
