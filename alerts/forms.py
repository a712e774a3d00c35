"""The alerts app's forms: the admin's add/change pages, the API and config-as-code
(``alerts.api``, ``alerts.configcode``) validate rules, silences and inhibition rules
with these same classes, so every path gives the same errors."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db import models
from django.utils.html import escape

from alerts import inhibition, silences
from alerts.models import AlertRule, InhibitionRule, Silence
from metrics.catalog import KNOWN, parse_key
from metrics.models import Metric
from opsconsole.formfields import LabelLinesField, LinesField, WeeklyWindowField

METRIC_KINDS = AlertRule.METRIC_KINDS


def _formfield(field: models.Field, **kwargs: Any) -> forms.Field | None:
    # A runbook link typed without a scheme is taken as https.
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class AlertRuleForm(forms.ModelForm):
    labels = LabelLinesField(
        help_text="Only the series with these labels, one 'name = value' a line (e.g. "
        "mount = /), beside those in the metric name. Empty: every series."
    )
    recommendations = LinesField(
        help_text="Advice shown with each alert of this rule, one piece a line."
    )

    class Meta:
        model = AlertRule
        formfield_callback = _formfield
        fields = [
            "name",
            "kind",
            "enabled",
            "description",
            "runbook_url",
            "metric",
            "labels",
            "process",
            "service",
            "host",
            "aggregation",
            "window_seconds",
            "min_samples",
            "operator",
            "threshold",
            "clear_threshold",
            "for_seconds",
            "severity",
            "category",
            "cooldown_seconds",
            "repeat_interval_seconds",
            "recommendations",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(KIND_FIELDS)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        metric = (data.get("metric") or "").strip()
        if kind in METRIC_KINDS:
            if not metric:
                self.add_error("metric", "This kind of rule needs a metric name.")
            else:
                try:
                    name, _ = parse_key(metric)
                except ValueError as exc:
                    self.add_error("metric", str(exc))
                else:
                    if (
                        kind != AlertRule.Kind.CUSTOM_METRIC
                        and name not in KNOWN
                        and not Metric.objects.filter(name=name).exists()
                    ):
                        known = ", ".join(
                            Metric.objects.values_list("name", flat=True).distinct()[:8]
                        )
                        self.add_error(
                            "metric",
                            f"No metric named {name!r} has been collected"
                            + (f" (known: {known}…)" if known else "")
                            + "; choose the custom metric kind for one pushed later.",
                        )
        if kind == AlertRule.Kind.PROCESS_METRIC and not data.get("process"):
            self.add_error("process", "A process rule needs the process name to watch.")
        if kind == AlertRule.Kind.SERVICE_HEALTH and not data.get("service"):
            self.add_error("service", "A service health rule needs the service endpoint.")
        if kind != AlertRule.Kind.ABSENCE and data.get("threshold") is None:
            self.add_error("threshold", "This kind of rule needs a threshold.")
        threshold, clear = data.get("threshold"), data.get("clear_threshold")
        operator = data.get("operator")
        if threshold is not None and clear is not None:
            above = operator in (AlertRule.Operator.GT, AlertRule.Operator.GTE)
            below = operator in (AlertRule.Operator.LT, AlertRule.Operator.LTE)
            if (above and clear > threshold) or (below and clear < threshold):
                self.add_error(
                    "clear_threshold",
                    "The clear threshold must lie on the healthy side of the threshold "
                    f"({'at or below' if above else 'at or above'} {threshold:g}).",
                )
        labels = data.get("labels")
        if labels is not None and not (
            isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
        ):
            self.add_error("labels", 'Labels are a JSON object of strings: {"mount": "/"}.')
        return data


# The fields each rule kind reads (the others are hidden by static/js/admin_kinds.js;
# the API's body for each kind, alerts.schema, takes these and no other). A process
# rule's metric says which of the process's values (memory_percent or cpu_percent); a
# service rule's aggregation reads response times or counts failed checks.
_METRIC = [k.value for k in METRIC_KINDS]
_ALL = list(AlertRule.Kind.values)
_READING = [k for k in _ALL if k != AlertRule.Kind.ABSENCE]
KIND_FIELDS: dict[str, list[str]] = {
    "metric": [*_METRIC, AlertRule.Kind.PROCESS_METRIC],
    "labels": _METRIC,
    "process": [AlertRule.Kind.PROCESS_METRIC],
    "service": [AlertRule.Kind.SERVICE_HEALTH],
    "host": [k for k in _ALL if k != AlertRule.Kind.SERVICE_HEALTH],
    "aggregation": _READING,
    "operator": _READING,
    "threshold": _READING,
    "clear_threshold": _READING,
    "min_samples": _READING,
}


class SilenceForm(forms.ModelForm):
    recurrence = WeeklyWindowField(
        label="Weekly window",
        help_text="Mutes only on the ticked days between these times, in this zone (an end "
        "before the start runs past midnight). Nothing ticked and no times: the whole "
        "period; no day ticked: every day.",
    )

    class Meta:
        model = Silence
        fields = ["matchers", "starts_at", "ends_at", "recurrence", "comment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "matchers" in self.fields:
            # The inhibition rules' 'field = value' lines, not a JSON list.
            self.fields["matchers"] = MatchersField(
                allow_empty=False,
                label="Matchers",
                help_text="One per line: severity = critical, resource =~ db-.*, "
                "label:team = payments. All must match.",
            )
        for name in ("starts_at", "ends_at"):
            # The admin's date and time boxes have one <label> for both: each says which.
            widget = self.fields[name].widget if name in self.fields else None
            for part, word in zip(getattr(widget, "widgets", ()), ("date", "time"), strict=False):
                part.attrs["aria-label"] = f"{self.fields[name].label}: {word}"

    def clean_matchers(self) -> list[dict[str, str]]:
        try:
            return silences.check_matchers(self.cleaned_data["matchers"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_recurrence(self) -> dict[str, Any]:
        try:
            return silences.check_recurrence(self.cleaned_data["recurrence"])
        except ValueError as exc:
            raise forms.ValidationError(f"Weekly window: {exc}.") from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "A silence must end after it starts.")
        return data


# -- inhibition rules ---------------------------------------------------------------------
# Text fields whose value is a list, like opsconsole.formfields' (whose docstring says why
# their to_python carries `type: ignore[override]`).
class MatchersField(forms.CharField):
    """Matchers as lines of text in the admin (``severity = critical``, ``resource =~
    db-.*``), a list of ``{field, op, value}`` everywhere else (the API and files hand
    the list itself)."""

    def __init__(self, *, allow_empty: bool, **kwargs: Any) -> None:
        self.allow_empty = allow_empty
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "matchers"})
        )
        super().__init__(required=not allow_empty, strip=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return inhibition.matchers_to_text(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[dict[str, str]]:  # type: ignore[override]
        try:
            if isinstance(value, str) and value.lstrip().startswith("["):
                # A JSON list (as the API and files write them) is read as such.
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"Not a JSON list of matchers: {exc.msg}.") from None
            matchers = value if isinstance(value, list) else inhibition.matchers_from_text(value)
            silences.check_matchers(matchers, allow_empty=self.allow_empty)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        # Stored in one shape whatever the input left out, so files and the API compare.
        return [
            {"field": str(m["field"]), "op": m.get("op", "eq"), "value": str(m["value"])}
            for m in matchers
        ]

    def validate(self, value: Any) -> None:
        if not value and not self.allow_empty:
            raise forms.ValidationError("Give at least one matcher.", code="required")

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


class EqualField(forms.CharField):
    """``equal`` as field names separated by commas in the admin, a list elsewhere."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if not isinstance(value, list):
            value = [name for name in str(value or "").replace(",", " ").split() if name]
        try:
            return inhibition.check_equal(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


MATCHER_HELP = (
    "One matcher a line: <code>field = value</code> or <code>field =~ pattern</code> "
    "(RE2, the whole value). Fields: " + escape(silences.FIELD_HELP) + "."
)


class InhibitionRuleForm(forms.ModelForm):
    source_matchers = MatchersField(
        allow_empty=False,
        help_text=MATCHER_HELP + " What the inhibiting alert matches.",
    )
    target_matchers = MatchersField(
        allow_empty=True,
        help_text="What the alerts it holds back match; empty: every alert.",
    )
    equal = EqualField(
        help_text="Fields both alerts must share, with the same value, e.g. "
        "<code>resource</code> or <code>resource, label:mount</code>; empty: any.",
    )

    class Meta:
        model = InhibitionRule
        fields = ["name", "enabled", "source_matchers", "target_matchers", "equal", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 60})}
