from django import forms
from django.contrib import admin, messages

from opsconsole.models import ApiToken, AuditEntry, SchedulerLease, Scope


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.READ]
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "expires_at", "revoked"]


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
