from datetime import timedelta

from django.contrib import admin
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from metrics import samples
from metrics.forms import HostForm
from metrics.ingest import host_changed
from metrics.models import Host, Metric, ProcessSample


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    form = HostForm
    list_display = [
        "hostname",
        "is_local",
        "platform",
        "cpu_count",
        "last_seen",
        "enabled",
        "links",
    ]
    list_filter = ["is_local", "enabled"]
    search_fields = ["hostname", "platform"]
    readonly_fields = [
        "first_seen",
        "last_seen",
        "boot_time",
        "agent_version",
        "platform",
        "cpu_count",
        "memory_total_bytes",
    ]
    actions = ["disable", "enable"]

    @admin.display(description="")
    def links(self, obj):
        return format_html(
            '<a href="{}">samples</a> · <a href="{}?host={}">live</a>',
            reverse("admin:metrics_host_samples", args=[obj.pk]),
            reverse("system_monitor"),
            obj.hostname,
        )

    @admin.action(description="Refuse batches from selected hosts")
    def disable(self, request, queryset):
        count = queryset.update(enabled=False)
        host_changed()  # an update sends no signal: every process forgets its hosts
        self.message_user(request, f"Disabled {count} host(s).")

    @admin.action(description="Accept batches from selected hosts")
    def enable(self, request, queryset):
        count = queryset.update(enabled=True)
        host_changed()
        self.message_user(request, f"Enabled {count} host(s).")

    def get_urls(self):
        return [
            path(
                "<int:host_id>/samples/",
                self.admin_site.admin_view(self.samples_view),
                name="metrics_host_samples",
            ),
            *super().get_urls(),
        ]

    def samples_view(self, request, host_id: int):
        """Read-only raw samples of one host, newest first, filtered by series and hours.

        (Samples have a composite primary key, which the admin cannot list directly.)
        """
        host = get_object_or_404(Host, pk=host_id)
        metrics = Metric.objects.all()
        chosen = request.GET.get("metric", "")
        try:
            hours = max(1, min(int(request.GET.get("hours", "1")), 24 * 30))
        except ValueError:
            hours = 1
        keys = {metric.pk: metric for metric in metrics}
        shown = [pk for pk, metric in keys.items() if not chosen or metric.key == chosen]
        now = timezone.now()
        # Both tables: the newest hours narrow, older ones compacted into blocks.
        rows = samples.NewestFirst(host.pk, shown, now - timedelta(hours=hours), now)
        page = Paginator(rows, 100).get_page(request.GET.get("page"))
        shown_rows = [
            {"time": at, "metric": keys[metric_id], "value": value}
            for metric_id, at, value in page.object_list
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Samples of {host.hostname}",
            "host": host,
            "metrics": metrics,
            "chosen": chosen,
            "hours": hours,
            "page": page,
            "samples": shown_rows,
        }
        return TemplateResponse(request, "admin/metrics/host_samples.html", context)


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "unit", "description"]
    list_filter = ["unit"]
    search_fields = ["key", "name"]
    readonly_fields = ["key", "name", "labels"]

    def has_add_permission(self, request):
        return False


@admin.register(ProcessSample)
class ProcessSampleAdmin(ReadOnlyAdmin):
    list_display = [
        "time",
        "host",
        "pid",
        "name",
        "username",
        "cpu_percent",
        "memory_percent",
        "rss_bytes",
        "status",
    ]
    list_filter = ["host", "status"]
    search_fields = ["name", "cmdline", "username"]
    date_hierarchy = "time"
    list_select_related = ["host"]
    show_full_result_count = False
