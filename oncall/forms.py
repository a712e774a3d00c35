"""The on-call app's forms: a person's contact method, checked as the API checks it."""

from __future__ import annotations

from typing import Any

from django import forms

from oncall import people
from oncall.models import ContactMethod


class ContactMethodForm(forms.ModelForm):
    class Meta:
        model = ContactMethod
        fields = ["user", "kind", "address", "label", "channel"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        problem = people.address_problem(data.get("kind", ""), (data.get("address") or "").strip())
        if problem:
            self.add_error("address", problem)
        channel = data.get("channel")
        kind = data.get("kind")
        if channel is not None and kind and channel.kind != people.CHANNEL_KIND[kind]:
            self.add_error("channel", f"{channel.name} cannot send to a {kind}")
        return data
