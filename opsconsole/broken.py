"""How the admin shows a rule or endpoint marked broken (``broken_reason`` and
``broken_since``: the evaluator or the health cycle could not handle it and went on with
the others)."""

from __future__ import annotations

from django.contrib import admin

from opsconsole.moments import moment


class BrokenFilter(admin.SimpleListFilter):
    title = "broken"
    parameter_name = "broken"

    def lookups(self, request, model_admin):
        return [("yes", "Broken"), ("no", "Working")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(broken_since__isnull=False)
        if self.value() == "no":
            return queryset.filter(broken_since__isnull=True)
        return queryset


def broken_display(obj) -> str:
    """'broken since 2026-11-22 10:00:00 UTC: OverflowError: ...', or 'ok'."""
    if obj.broken_since is None:
        return "ok"
    return f"broken since {moment(obj.broken_since)}: {obj.broken_reason}"
