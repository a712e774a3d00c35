"""The project's own forms: an API token with its scopes as ticks."""

from __future__ import annotations

from django import forms

from opsconsole.models import ApiToken, Scope


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.READ]
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "expires_at", "revoked"]
