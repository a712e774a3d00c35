"""Form fields that let the admin edit what a model stores as JSON in the operator's
words: names separated by commas, one item or one ``name = value`` a line, a weekly
window as ticks and times.

The same forms validate the API's bodies and the configuration files, which hand the
value itself (``opsconsole.apitools.as_form_data`` posts a list or an object as JSON
text): each field reads that JSON as such, so the API and the files keep their shape
while the admin's page has no JSON to type.

The text fields are ``CharField``s whose value is a list or an object, as Django's own
``SimpleArrayField``; django-stubs types a ``CharField``'s ``to_python`` as returning
``str``, so each of theirs says ``type: ignore[override]`` (as the stubs do for
``SimpleArrayField``) and names what it returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from django import forms
from django.utils.html import format_html, format_html_join

if TYPE_CHECKING:
    from django.forms.renderers import BaseRenderer
    from django.utils.safestring import SafeString


def _json(value: Any, opener: str, what: str) -> Any:
    """``value`` parsed when it is JSON text of this shape (as the API and files post
    it), else ``value`` unchanged."""
    if isinstance(value, str) and value.lstrip().startswith(opener):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not a JSON {what}: {exc.msg}.") from None
    return value


class NameListField(forms.CharField):
    """A list of names typed as ``rule, host`` (commas or new lines)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[Any]:  # type: ignore[override]
        value = _json(value, "[", "list")
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


class LinesField(NameListField):
    """A list of sentences, one a line (a sentence may hold commas)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[Any]:  # type: ignore[override]
        value = _json(value, "[", "list")
        if isinstance(value, list):
            return value
        text = forms.CharField.to_python(self, value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class LabelLinesField(forms.CharField):
    """Labels typed as ``team = db`` lines (the object they are stored as)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{k} = {v}" for k, v in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, Any]:  # type: ignore[override]
        value = _json(value, "{", "object")
        if isinstance(value, dict):
            return value
        labels: dict[str, Any] = {}
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            name, sep, wanted = line.partition("=")
            if not sep or not name.strip():
                raise forms.ValidationError(f"{line.strip()!r} is not 'name = value'.")
            labels[name.strip()] = wanted.strip()
        return labels

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or {})
        except forms.ValidationError:
            return True


class HeaderEdits(dict[str, str | None]):
    """Headers typed in the admin: changes to the stored ones (a None value removes
    its header), not all of them, since the stored values are never shown."""


class HeaderLinesField(forms.CharField):
    """HTTP headers typed as ``Name: value`` lines; ``Name:`` alone removes one. The
    stored values are credentials as often as not: the box starts empty and the help
    says which names are set. JSON (the API, the files) replaces them all."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "autocomplete": "off"})
    _NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "" if isinstance(value, dict) else value

    def to_python(self, value: Any) -> dict[str, Any]:  # type: ignore[override]
        value = _json(value, "{", "object")
        if isinstance(value, dict):
            return value
        edits = HeaderEdits()
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            name, sep, given = line.partition(":")
            name = name.strip()
            if not sep or not name:
                raise forms.ValidationError(f"{line.strip()!r} is not 'Name: value'.")
            if not self._NAME.fullmatch(name):
                raise forms.ValidationError(f"{name!r} is not a header name.")
            edits[name] = given.strip() or None
        return edits

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            value = self.to_python(data)
        except forms.ValidationError:
            return True
        return bool(value) if isinstance(value, HeaderEdits) else value != (initial or {})

    @staticmethod
    def merged(stored: dict[str, Any] | None, value: dict[str, Any]) -> dict[str, Any]:
        """What is stored once ``value`` (edits, or all headers) is saved."""
        if not isinstance(value, HeaderEdits):
            return value
        headers = dict(stored or {})
        for name, given in value.items():
            if given is None:
                headers.pop(name, None)
            else:
                headers[name] = given
        return headers

    @staticmethod
    def help_for(stored: dict[str, Any] | None) -> str:
        names = sorted(stored or {})
        state = f"Set: {', '.join(names)} (values hidden). " if names else "None set. "
        return (
            state + "One 'Name: value' a line adds or replaces a header; 'Name:' alone "
            "removes one; headers not named are kept."
        )


# -- the weekly window of a silence ------------------------------------------------------
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_PARTS = ("days", "start", "end", "timezone")


class WindowParts(dict[str, Any]):
    """What the widget's inputs posted (days, start, end, timezone), before it is
    made the stored window."""


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    """UTC first, then every zone the system knows, by name."""
    return ["UTC", *sorted(z for z in available_timezones() if z != "UTC" and "/" in z)]


class WeeklyWindowWidget(forms.Widget):
    """Day ticks, a start and an end time and a time zone. Posts ``<name>_days`` …
    ``<name>_timezone``; a post naming ``<name>`` itself (JSON, as the API's) is read
    as it is."""

    def value_from_datadict(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> Any:
        if name in data:
            return data[name]
        if not any(f"{name}_{part}" in data for part in _PARTS):
            return None
        getlist = getattr(data, "getlist", None)
        days = getlist(f"{name}_days") if getlist else data.get(f"{name}_days") or []
        return WindowParts(
            days=list(days),
            start=(data.get(f"{name}_start") or "").strip(),
            end=(data.get(f"{name}_end") or "").strip(),
            timezone=(data.get(f"{name}_timezone") or "").strip(),
        )

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> bool:
        return name not in data and not any(f"{name}_{part}" in data for part in _PARTS)

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        window = _as_window(value)
        days = set(window.get("weekdays") or [])
        base = (attrs or {}).get("id") or f"id_{name}"
        ticks = format_html_join(
            "",
            '<label class="window-day"><input type="checkbox" name="{}_days" value="{}"{}> '
            "{}</label>",
            (
                (name, index, " checked" if index in days else "", label)
                for index, label in enumerate(WEEKDAYS)
            ),
        )
        zone = str(window.get("timezone") or "UTC")
        zones = time_zones() if zone in time_zones() else [zone, *time_zones()]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((z, " selected" if z == zone else "", z) for z in zones),
        )
        return format_html(
            '<fieldset class="weekly-window" id="{base}">'
            '<legend class="sr-only">Weekly window</legend>'
            '<div class="window-days" role="group" aria-label="Days">{ticks}</div>'
            '<div class="window-times">'
            '<label>From <input type="time" name="{name}_start" value="{start}"'
            ' id="{base}_start"></label> '
            '<label>to <input type="time" name="{name}_end" value="{end}" id="{base}_end">'
            "</label> "
            '<label>Time zone <select name="{name}_timezone" id="{base}_timezone">'
            "{options}</select></label></div></fieldset>",
            base=base,
            ticks=ticks,
            name=name,
            start=window.get("start", ""),
            end=window.get("end", ""),
            options=options,
        )


def _as_window(value: Any) -> dict[str, Any]:
    """The stored shape of whatever the widget is handed (stored, posted, or JSON)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            return {}
    if not isinstance(value, dict):
        return {}
    if isinstance(value, WindowParts):  # shown again as typed, valid or not
        days = [int(d) for d in value.get("days") or [] if str(d).isdigit()]
        return {
            "weekdays": days,
            "start": value.get("start", ""),
            "end": value.get("end", ""),
            "timezone": value.get("timezone") or "UTC",
        }
    return value


def _from_parts(parts: dict[str, Any]) -> dict[str, Any]:
    """The stored window from the widget's parts: only what was given is kept, so an
    unticked week means every day and a missing time the start or end of the day."""
    try:
        weekdays = sorted({int(day) for day in parts.get("days") or []})
    except (TypeError, ValueError):
        raise forms.ValidationError("Pick days from the list.") from None
    start, end = parts.get("start") or "", parts.get("end") or ""
    if not (weekdays or start or end):
        return {}  # no window: the silence holds for its whole period
    window: dict[str, Any] = {}
    if weekdays and len(weekdays) < 7:
        window["weekdays"] = weekdays
    for key, clock in (("start", start), ("end", end)):
        if clock:
            window[key] = clock[:5]  # a browser may send seconds
    window["timezone"] = parts.get("timezone") or "UTC"
    return window


class WeeklyWindowField(forms.Field):
    """A silence's weekly window; empty: none (the silence holds all along)."""

    widget = WeeklyWindowWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, Any]:
        value = _json(value, "{", "object")
        if value in (None, ""):
            return {}
        if isinstance(value, WindowParts):
            return _from_parts(value)
        return value  # the API's and the files' own shape, checked by the form

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (initial or {})
        except forms.ValidationError:
            return True
