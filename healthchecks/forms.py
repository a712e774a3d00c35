"""The health checks app's forms: the admin's endpoint pages, the API and
config-as-code (``healthchecks.api``, ``healthchecks.configcode``) validate endpoints
with the same class, so every path gives the same errors."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from healthchecks.constants import Kind
from healthchecks.models import ServiceEndpoint
from healthchecks.validation import endpoint_errors
from metrics.models import Host
from opsconsole.formfields import HeaderLinesField, NameListField


class ServiceEndpointForm(forms.ModelForm):
    # A webhook typed without a scheme is taken as https.
    recovery_webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=200,
        help_text=ServiceEndpoint._meta.get_field("recovery_webhook_url").help_text,
    )

    # Named by hostname everywhere (the admin's select, the API, configuration files),
    # from the hosts the console knows: those that reported at least once.
    host = forms.ModelChoiceField(
        queryset=Host.objects.order_by("hostname"),
        to_field_name="hostname",
        required=False,
        help_text=ServiceEndpoint._meta.get_field("host").help_text,
        error_messages={
            "invalid_choice": "no host named %(value)s: pick one of the hosts that "
            "report to the console (an agent's host, or the console's own)"
        },
    )

    tags = NameListField(help_text="Comma-separated, e.g. payments, eu.")
    http_headers = HeaderLinesField(label="HTTP headers")
    recovery_actions = NameListField(
        help_text="Names in capitals, comma-separated, tried in order until one succeeds, "
        "once per outage: NOTIFY_ADMIN emails the admins; any other (RECONNECT, RESTART) "
        "is POSTed to the webhook. Empty: RESTART."
    )

    class Meta:
        model = ServiceEndpoint
        fields = [
            "name", "kind", "target", "enabled", "tags", "parent", "host", "severity",
            "interval_seconds", "timeout_seconds", "retries", "max_response_time_ms",
            "http_method", "http_headers", "accepted_status_codes", "expect_keyword",
            "expect_json_path", "expect_json_value", "follow_redirects",
            "tls_expiry_warning_days", "period_seconds", "cron", "grace_seconds", "time_zone",
            "recovery_webhook_url", "recovery_after_failures", "recovery_actions",
        ]  # fmt: skip

    instance: ServiceEndpoint

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "http_headers" in self.fields:
            self.fields["http_headers"].help_text = HeaderLinesField.help_for(
                self.instance.http_headers
            )
        if "kind" in self.fields:
            # A heartbeat is pinged, not probed: no timeout, no response time.
            probed = [k for k in Kind.values if k != Kind.HEARTBEAT]
            self.fields["kind"].widget.attrs["data-kind-fields"] = json.dumps(
                {"timeout_seconds": probed, "max_response_time_ms": probed}
            )

    def save(self, commit: bool = True) -> ServiceEndpoint:
        # An edit is the fix for a broken endpoint: the scheduler claims it again, and
        # marks it anew if it still cannot be checked.
        self.instance.broken_reason, self.instance.broken_since = "", None
        return super().save(commit)

    def clean_http_headers(self) -> dict[str, Any]:
        # Lines typed in the admin change the stored headers; JSON replaces them.
        return HeaderLinesField.merged(
            self.instance.http_headers, self.cleaned_data["http_headers"]
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for field, message in endpoint_errors(data).items():
            self.add_error(field if field in self.fields else None, message)
        parent = data.get("parent")
        if parent is not None and self.instance.pk:
            seen = {self.instance.pk}
            while parent is not None:
                if parent.pk in seen:
                    self.add_error("parent", "this would make a dependency loop")
                    break
                seen.add(parent.pk)
                parent = parent.parent
        return data
