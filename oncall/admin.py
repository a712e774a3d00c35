"""People's contact methods and rules, schedules, escalation policies, in the admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall import lint, people, schedules
from oncall.forms import ContactMethodForm
from oncall.models import (
    ContactMethod,
    Escalation,
    EscalationPolicy,
    EscalationStep,
    NotificationRule,
    Override,
    Rotation,
    RotationMember,
    Schedule,
)


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    form = ContactMethodForm
    list_display = ["user", "kind", "address", "label", "verified_at"]
    list_filter = ["kind", ("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "address", "label"]
    readonly_fields = ["verified_at", "verification_sent_at"]
    actions = ["send_test_message"]

    @admin.action(description="Send a test message with a verification code")
    def send_test_message(self, request, queryset):
        for method in queryset:
            problem = people.send_verification(method)
            if problem:
                self.message_user(request, f"{method}: {problem}", messages.ERROR)
            else:
                self.message_user(request, f"{method}: test message sent", messages.SUCCESS)


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "urgency", "contact_method", "delay_minutes"]
    list_filter = ["urgency"]
    search_fields = ["user__username"]

    def save_model(self, request, obj, form, change):
        obj.user = obj.contact_method.user  # a rule belongs to its method's person
        super().save_model(request, obj, form, change)

    def get_fields(self, request, obj=None):
        return ["contact_method", "urgency", "delay_minutes"]


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1
    fields = ["position", "user"]
    ordering = ["position"]


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "layer", "length", "handoff_time", "start_date"]
    list_filter = ["schedule"]
    inlines = [RotationMemberInline]


class RotationInline(admin.TabularInline):
    model = Rotation
    extra = 0
    fields = ["name", "layer", "length", "shift_hours", "handoff_time", "start_date"]
    show_change_link = True  # participants are edited on the rotation's page


class OverrideInline(admin.TabularInline):
    model = Override
    extra = 0
    fields = ["user", "replaces", "start", "end", "note"]
    fk_name = "schedule"


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "on_call_now", "problems"]
    search_fields = ["name"]
    inlines = [RotationInline, OverrideInline]

    @admin.display(description="On call now")
    def on_call_now(self, obj):
        view = schedules.load_one(obj.pk)  # None: deleted since the list was read
        shift = None if view is None else schedules.on_call(view, timezone.now())
        if shift is None:
            return "nobody"
        return get_user_model().objects.get(pk=shift.user_id).get_username()

    @admin.display(description="Problems")
    def problems(self, obj):
        return "; ".join(lint.schedule_problems(obj)) or "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for problem in lint.schedule_problems(form.instance):
            self.message_user(request, problem, messages.WARNING)


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "replaces", "start", "end", "created_by"]
    list_filter = ["schedule"]
    readonly_fields = ["created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 1
    fields = [
        "position",
        "action",
        "schedule",
        "person",
        "group",
        "channel",
        "repeat_from",
        "wait_minutes",
    ]
    ordering = ["position", "id"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "repeat", "step_count", "problem_list"]
    search_fields = ["name"]
    filter_horizontal = ["routing_rules"]
    readonly_fields = ["problem_list"]
    fields = ["name", "description", "repeat", "routing_rules", "problem_list"]
    inlines = [EscalationStepInline]

    @admin.display(description="Steps")
    def step_count(self, obj):
        return obj.steps.count()

    @admin.display(description="Problems found at the last save")
    def problem_list(self, obj):
        return "; ".join(obj.problems or []) or "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for problem in lint.refresh(form.instance):
            self.message_user(request, problem, messages.WARNING)


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ["alert", "policy", "status", "next_position", "round", "next_step_at", "taken"]
    list_filter = ["status", "policy"]
    readonly_fields = [f.name for f in Escalation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
