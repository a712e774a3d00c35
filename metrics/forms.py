"""The metrics app's forms: a host's labels as ``name = value`` lines in the admin."""

from __future__ import annotations

from django import forms

from metrics.models import Host
from opsconsole.formfields import LabelLinesField


class HostForm(forms.ModelForm):
    labels = LabelLinesField(
        help_text="One 'name = value' a line (e.g. role = db), shown with the host."
    )

    class Meta:
        model = Host
        fields = ["hostname", "is_local", "labels", "enabled"]
