from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from opsconsole import thresholds, versions
from opsconsole.auth import token_changed
from opsconsole.forms import ApiTokenForm
from opsconsole.models import (
    ApiToken,
    AuditEntry,
    ConfigVersion,
    SchedulerLease,
    ThresholdSetting,
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = [
        "name",
        "prefix",
        "user",
        "scope_list",
        "created",
        "last_used",
        "expires_at",
        "revoked",
    ]
    list_filter = ["revoked", "user"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["prefix", "created", "last_used"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, raw = ApiToken.issue(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
        )
        obj.pk = token.pk
        obj.__dict__.update(token.__dict__)
        messages.warning(
            request,
            f"Token for {token.name}: {raw} — copy it now; it is not stored and "
            "will not be shown again.",
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = queryset.update(revoked=True)
        token_changed()  # an update sends no signal: every process forgets its copies
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(admin.ModelAdmin):
    list_display = ["name", "holder", "heartbeat", "expires_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.site_header = "OpsConsole administration"
admin.site.site_title = "OpsConsole admin"
admin.site.index_title = "Configuration and data"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit stream is written by the console, never edited by hand."""

    list_display = ["created", "kind", "actor", "summary"]
    list_filter = ["kind"]
    search_fields = ["actor", "summary"]
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConfigVersion)
class ConfigVersionAdmin(admin.ModelAdmin):
    """Read-only history of configuration items, with a diff and a rollback."""

    list_display = ["object_name", "section", "number", "summary", "actor", "source", "created"]
    list_filter = ["section", "source"]
    search_fields = ["object_name", "actor"]
    fields = readonly_fields = (
        "section",
        "object_name",
        "number",
        "actor",
        "source",
        "created",
        "diff",
        "rollback",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="what changed")
    def summary(self, version: ConfigVersion) -> str:
        if version.snapshot is None:
            return "deleted"
        if version.number == 1:
            return "created"
        return ", ".join(version.changes) or "no field changed"

    @admin.display(description="changes from the version before")
    def diff(self, version: ConfigVersion) -> str:
        return _diff_table(version.changes, deleted=version.snapshot is None)

    @admin.display(description="roll back")
    def rollback(self, version: ConfigVersion) -> str:
        return format_html(
            '<a class="button" href="{}">Roll back to this version…</a>',
            reverse("admin:opsconsole_configversion_rollback", args=[version.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:version_id>/rollback/",
                self.admin_site.admin_view(self.rollback_view),
                name="opsconsole_configversion_rollback",
            ),
            *super().get_urls(),
        ]

    def rollback_view(self, request, version_id: int):
        """GET: what a rollback would change; POST: do it."""
        version = get_object_or_404(ConfigVersion, pk=version_id)
        if not versions.can_roll_back(request.user, version):
            raise PermissionDenied
        current = versions.latest(version.section, version.object_key)
        if request.method == "POST":
            try:
                made = versions.roll_back(version, actor=request.user.get_username())
            except versions.RollbackError as exc:
                messages.error(request, f"Cannot roll back: {exc}")
            else:
                if made is not None and made.pk != (current.pk if current else None):
                    messages.success(
                        request, f"{version.object_name} is back to version {version.number}."
                    )
                else:
                    messages.info(request, "Nothing to roll back: it is already that version.")
            return redirect(
                reverse("admin:opsconsole_configversion_changelist")
                + f"?section={version.section}&object_key={version.object_key}"
            )
        pending = versions.field_changes(current.snapshot if current else None, version.snapshot)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Roll back {version.object_name} to version {version.number}?",
            "version": version,
            "current": current,
            "diff": _diff_table(pending, deleted=version.snapshot is None),
            "unchanged": not pending and (current is None or current.snapshot is not None),
        }
        return TemplateResponse(request, "admin/opsconsole/configversion/rollback.html", context)


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _diff_table(changes: dict, *, deleted: bool = False) -> str:
    if deleted:
        return format_html("<em>{}</em>", "the item was deleted")
    if not changes:
        return format_html("<em>{}</em>", "no field changed")
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td><del>{}</del></td><td><ins>{}</ins></td></tr>",
        ((name, _show(before), _show(after)) for name, (before, after) in changes.items()),
    )
    return format_html(
        "<table><thead><tr><th>field</th><th>before</th><th>after</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


@admin.register(ThresholdSetting)
class ThresholdSettingAdmin(admin.ModelAdmin):
    """Thresholds set by configuration files; deleting one returns to the environment's."""

    list_display = ["name", "value", "updated_by", "updated"]
    readonly_fields = ["updated_by", "updated"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user.get_username()
        super().save_model(request, obj, form, change)
        cache.delete(thresholds.CACHE_KEY)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        cache.delete(thresholds.CACHE_KEY)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        cache.delete(thresholds.CACHE_KEY)
