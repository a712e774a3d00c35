"""The typed fields of each channel kind, for the admin's channel form: a Slack channel
asks for its webhook URL, an email channel for recipients and a server, an SMS channel
for numbers, account SID and auth token, never for JSON.

Which keys a kind reads (and which are secrets or required) is the notifier's own
``CONFIG``, ``SECRETS`` and ``REQUIRED`` (notifications/notifiers/*.py); this module only
says how each key is typed in and read back, and the form validates the result with
``channels.problems_for``, the API's validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TypedDict

from django import forms

from notifications.notifiers import available_kinds, notifier


class _Common(TypedDict):
    """What every key's field is given: its label, its help, never required by Django."""

    label: str
    required: bool
    help_text: str


@dataclass(frozen=True)
class Key:
    label: str
    shape: str = "text"  # text, url, email, emails, phones, int, seconds, bool, choice, headers
    help: str = ""
    choices: tuple[str, ...] = ()


KEYS: dict[str, Key] = {
    "webhook_url": Key("Webhook URL", "url", "The incoming webhook's address."),
    "timeout": Key("Timeout", "seconds", "Seconds to wait for an answer; empty: the default."),
    "username": Key("User name", help="Shown as the sender (Discord), or the SMTP login."),
    "to": Key("Recipients", "emails", "Email addresses, one per line or separated by commas."),
    "from_email": Key("From", "email", "Sender address; empty: DEFAULT_FROM_EMAIL."),
    "host": Key("SMTP server", help="Host name; empty: the console's EMAIL_HOST."),
    "port": Key("SMTP port", "int", "25, 465 (SSL) or 587 (STARTTLS); empty: EMAIL_PORT."),
    "use_tls": Key("STARTTLS", "bool"),
    "use_ssl": Key("SSL", "bool"),
    "password": Key("SMTP password"),
    "url": Key("URL", "url"),
    "component": Key("Component", help="PagerDuty's component; empty: the alert's resource."),
    "group": Key("Group", help="PagerDuty's logical group of components."),
    "routing_key": Key("Integration key", help="The Events API v2 routing key of the service."),
    "from_number": Key("From number", help="Your Twilio number, E.164 (+15551234567)."),
    "to_numbers": Key(
        "To numbers", "phones", "E.164 numbers, one per line or separated by commas."
    ),
    "api_base": Key("API base URL", "url", "Only to route through a proxy or a test server."),
    "account_sid": Key("Account SID"),
    "auth_token": Key("Auth token"),
    "chat_id": Key("Chat ID", help="The chat, group or channel (@name or -100...)."),
    "parse_mode": Key("Formatting", "choice", choices=("HTML", "MarkdownV2")),
    "bot_token": Key("Bot token", help="From @BotFather: 123456:ABC..."),
    "signing_secret": Key(
        "Signing secret", help="Signs each body (X-OpsConsole-Signature); empty: unsigned."
    ),
    "headers": Key(
        "Headers",
        "headers",
        "One 'Name: value' per line, sent with every request (e.g. Authorization: Bearer "
        "...). Stored headers are kept; 'Name:' alone removes one.",
    ),
}
# Webhook and apprise use "url" for the endpoint itself.
LABELS = {("webhook", "url"): "Endpoint URL", ("apprise", "url"): "Apprise URL"}


def field_name(kind: str, key: str) -> str:
    return f"{kind}__{key}"


def kinds() -> list[tuple[str, ModuleType]]:
    return [(kind, notifier(kind)) for kind in available_kinds()]


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip()]


def _headers(text: str) -> dict[str, str | None]:
    given: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise forms.ValidationError(f"{line.strip()!r} is not 'Name: value'.")
        given[name.strip()] = value.strip() or None
    return given


def build_field(
    kind: str, key: str, module: ModuleType, stored_config: dict, stored_secrets: dict
) -> forms.Field:
    """The form field for one key, with its initial value (never a secret's)."""
    spec = KEYS.get(key, Key(key.replace("_", " ").capitalize()))
    label = LABELS.get((kind, key), spec.label)
    secret = key in module.SECRETS
    required = key in getattr(module, "REQUIRED", ())
    help_text = spec.help + (" Required." if required else "")
    common: _Common = {"label": label, "required": False, "help_text": help_text.strip()}
    if spec.shape == "headers":
        names = sorted((stored_secrets.get(key) or {}).keys())
        stored = f"Set: {', '.join(names)} (values hidden). " if names else ""
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
            **(common | {"help_text": stored + common["help_text"]}),
        )
    if secret:
        is_set = bool(stored_secrets.get(key))
        state = "A value is set; leave empty to keep it." if is_set else "Not set."
        return forms.CharField(
            widget=forms.PasswordInput(
                render_value=False,
                attrs={"autocomplete": "new-password", "data-secret-set": "1" if is_set else "0"},
            ),
            **(common | {"help_text": f"{state} {common['help_text']}".strip()}),
        )
    value = stored_config.get(key)
    if spec.shape in ("emails", "phones"):
        listed = [value] if isinstance(value, str) else list(value or [])
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 2}), initial="\n".join(listed), **common
        )
    if spec.shape == "bool":
        return forms.BooleanField(initial=bool(value), **common)
    if spec.shape == "int":
        return forms.IntegerField(min_value=1, max_value=65535, initial=value, **common)
    if spec.shape == "seconds":
        return forms.FloatField(min_value=0.5, max_value=120, initial=value, **common)
    if spec.shape == "choice":
        return forms.ChoiceField(
            choices=[("", "default"), *((c, c) for c in spec.choices)], initial=value, **common
        )
    if spec.shape == "email":
        return forms.EmailField(initial=value, **common)
    # URLs are checked by the notifier's own rules (and the SSRF guard), not Django's.
    return forms.CharField(initial=value, **common)


def add_fields(form, stored_config: dict, stored_secrets: dict) -> list[tuple[str, list[str]]]:
    """Add every kind's fields to the form; return (kind, field names) per kind."""
    groups = []
    for kind, module in kinds():
        names = []
        required = getattr(module, "REQUIRED", ())
        # What the kind cannot do without first, then the rest in the notifier's order.
        keys = sorted((*module.CONFIG, *module.SECRETS), key=lambda k: k not in required)
        for key in keys:
            name = field_name(kind, key)
            mine = form.instance.kind == kind
            form.fields[name] = build_field(
                kind, key, module, stored_config if mine else {}, stored_secrets if mine else {}
            )
            names.append(name)
        groups.append((kind, names))
    return groups


def read(kind: str, cleaned: dict) -> tuple[dict, dict]:
    """(config, secrets to merge) from the cleaned form for the chosen kind."""
    module = notifier(kind)
    config: dict = {}
    given: dict = {}
    for key in (*module.CONFIG, *module.SECRETS):
        value = cleaned.get(field_name(kind, key))
        spec = KEYS.get(key, Key(key))
        if key in module.SECRETS:
            if spec.shape == "headers":
                if value:
                    given[key] = _headers(value)
            elif value:
                given[key] = value.strip()
            continue
        if spec.shape in ("emails", "phones"):
            value = _split(value or "")
        if spec.shape == "bool":
            if value:
                config[key] = True
            continue
        if value not in (None, "", []):
            config[key] = value
    return config, given
