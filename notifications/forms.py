"""The notifications app's forms: a channel's typed settings, a routing rule, and a
row of the routing rules' list, as the admin edits them."""

from __future__ import annotations

from typing import Any

from django import forms

from alerts.constants import Category, Severity
from notifications import channel_fields
from notifications.channels import (
    default_min_severity,
    merged_secrets,
    problems_for,
    routing_rule_problems,
)
from notifications.models import (
    GROUP_FIELDS,
    NO_GROUPING,
    ChannelKind,
    NotificationChannel,
    RoutingRule,
)
from notifications.notifiers import available_kinds
from opsconsole.formfields import LabelLinesField, NameListField


class NotificationChannelForm(forms.ModelForm):
    """A channel's settings as typed fields of its kind (notifications.channel_fields):
    secrets are password boxes that say whether a value is stored and keep it when left
    empty; what is typed is validated as the API validates it (``problems_for``)."""

    min_severity = forms.ChoiceField(
        choices=[("", "Default for the kind (critical for SMS, else info)"), *Severity.choices],
        required=False,
    )

    class Meta:
        model = NotificationChannel
        fields = [
            "name",
            "kind",
            "enabled",
            "min_severity",
            "send_resolved",
            "rate_limit_per_minute",
        ]

    instance: NotificationChannel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Staff who may only view a channel get a form without its fields (the admin
        # shows them read-only), so each one is adjusted only when it is there.
        if isinstance(kind := self.fields.get("kind"), forms.ChoiceField):
            kind.choices = [(k, ChannelKind(k).label) for k in available_kinds()]
            self.kind_groups = channel_fields.add_fields(
                self, self.instance.config or {}, self.instance.secrets or {}
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind = cleaned.get("kind") or self.instance.kind
        if not cleaned.get("min_severity"):
            cleaned["min_severity"] = (
                self.instance.min_severity if self.instance.pk else default_min_severity(kind)
            )
        if not kind or kind not in available_kinds() or self.errors:
            return cleaned
        try:
            config, given = channel_fields.read(kind, cleaned)
        except forms.ValidationError as exc:
            self.add_error(channel_fields.field_name(kind, "headers"), exc)
            return cleaned
        # A channel that changes kind keeps none of the other kind's secrets.
        stored = self.instance.secrets if self.instance.kind == kind else {}
        secrets = merged_secrets(stored, given)
        for problem in problems_for(kind, config, secrets):
            self.add_error(self._field_of(kind, problem), problem)
        self.instance.config = config
        self.instance.secrets = secrets
        return cleaned

    def _field_of(self, kind: str, problem: str) -> str | None:
        """The typed field a problem names ("secrets.webhook_url is required ...")."""
        head = problem.split(" ", 1)[0].split(":", 1)[0]
        key = head.split(".", 1)[-1]
        name = channel_fields.field_name(kind, key)
        return name if name in self.fields else None


def _ticks(choices: list[tuple[str, str]]) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "checkbox-row"}),
    )


class RoutingRuleForm(forms.ModelForm):
    severities = _ticks(Severity.choices)
    categories = _ticks(Category.choices)
    channel_kinds = _ticks([])
    label_matchers = LabelLinesField(
        required=False,
        help_text="One 'label = value' per line; all must match. Empty: any labels.",
    )
    group_by = NameListField(
        required=False,
        help_text=(
            f"Comma-separated: any of {', '.join(GROUP_FIELDS)} or label names (e.g. "
            f"rule, host). Empty: one group for every alert of this rule; "
            f"{NO_GROUPING} alone: no grouping, one message per alert."
        ),
    )

    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "position",
            "enabled",
            "severities",
            "categories",
            "label_matchers",
            "channel_kinds",
            "all_channels",
            "channels",
            "group_by",
            "group_wait",
            "group_interval",
            "repeat_interval",
        ]
        widgets = {"channels": forms.CheckboxSelectMultiple(attrs={"class": "checkbox-row"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(kinds := self.fields.get("channel_kinds"), forms.ChoiceField):
            kinds.choices = [(k, ChannelKind(k).label) for k in available_kinds()]
        for name, words in (("severities", "severity"), ("categories", "category")):
            if name in self.fields:
                self.fields[name].help_text = f"None ticked: any {words}."
        if "channel_kinds" in self.fields:
            self.fields[
                "channel_kinds"
            ].help_text = "Every enabled channel of the ticked kinds; add single channels below."

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for problem in routing_rule_problems(cleaned):
            field = problem.split(":", 1)[0]
            self.add_error(field if field in self.fields else None, problem)
        return cleaned


class LabelledRowForm(forms.ModelForm):
    """A row of the routing rules' list: its inline inputs are named after the rule, so
    a screen reader says "Position of Critical to PagerDuty", not just "edit text"."""

    instance: RoutingRule

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            label = field.label or name
            field.widget.attrs["aria-label"] = f"{label} of {self.instance.name}"
