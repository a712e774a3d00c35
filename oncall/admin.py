"""People's contact methods and rules, schedules, escalation policies, in the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from oncall import people
from oncall.models import ContactMethod, NotificationRule


class ContactMethodForm(forms.ModelForm):
    class Meta:
        model = ContactMethod
        fields = ["user", "kind", "address", "label", "channel"]

    def clean(self):
        data = super().clean()
        problem = people.address_problem(data.get("kind", ""), (data.get("address") or "").strip())
        if problem:
            self.add_error("address", problem)
        channel = data.get("channel")
        kind = data.get("kind")
        if channel is not None and kind and channel.kind != people.CHANNEL_KIND[kind]:
            self.add_error("channel", f"{channel.name} cannot send to a {kind}")
        return data


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
