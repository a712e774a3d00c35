"""Remove secrets and financial data from anything that leaves the process.

Used on Sentry events (``before_send``) and on the stack traces and messages stored
in application error alerts, which are shown to every viewer and sent to channels.
Two kinds of removal:

- by key: a value under a key that names a secret (``password``, ``routing_key``,
  ``webhook_url``...) or a financial field (``card_number``, ``iban``...) is replaced
  whole, at any depth;
- by content: card numbers (Luhn-checked, so order ids and timestamps survive),
  IBANs (mod-97 checked), labelled account numbers, webhook URLs, URL credentials,
  the console's own API tokens, and the literal values of secret environment
  variables are cut out of any string.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from sentry_sdk.scrubber import DEFAULT_DENYLIST

FILTERED = "[Filtered]"

# Keys whose values are this project's secrets (channels, tokens, Twilio, SMTP...).
SECRET_KEYS = [
    *DEFAULT_DENYLIST,
    "api_token",
    "access_token",
    "auth_token",
    "bot_token",
    "bearer",
    "raw_token",
    "token_hash",
    "webhook",
    "webhook_url",
    "url_with_token",
    "routing_key",
    "integration_key",
    "service_key",
    "account_sid",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_api_key",
    "twilio_api_secret",
    "smtp_password",
    "email_host_password",
    "password_hash",
    "dsn",
    "sentry_dsn",
    "secret_key",
    "apprise_url",
    "metrics_token",
]

# Keys whose values are financial data about a person.
FINANCIAL_KEYS = [
    "card",
    "card_number",
    "cardnumber",
    "credit_card",
    "pan",
    "cvv",
    "cvc",
    "expiry",
    "iban",
    "bic",
    "account_number",
    "accountnumber",
    "bank_account",
    "acct",
    "routing_number",
    "sort_code",
    "amount",
    "balance",
    "salary",
]

_DENIED = {key.lower() for key in SECRET_KEYS + FINANCIAL_KEYS}

# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_ACCOUNT = re.compile(
    r"(?i)\b(account|acct|a/c)(\s*(?:number|no\.?|num|#))?\s*[:=#]?\s*[\d -]{6,20}\d"
)
_WEBHOOK = re.compile(
    r"https?://(?:hooks\.slack\.com|(?:[\w-]+\.)?discord(?:app)?\.com/api/webhooks"
    r"|[\w.-]+\.webhook\.office\.com|api\.telegram\.org/bot)[^\s'\"<>]*"
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@'\"]+:[^/\s@'\"]+@")
_CONSOLE_TOKEN = re.compile(r"\bopc_[A-Za-z0-9_-]{8,}")
_TWILIO_SID = re.compile(r"\b(?:AC|SK)[0-9a-fA-F]{32}\b")
_BEARER = re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9._~+/-]{12,}=*")

# Environment variables whose values are secrets, by the shape of their names.
_SECRET_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|DSN|_KEY|WEBHOOK|SID|AUTH)", re.I)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1
    except ValueError:
        return False


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return FILTERED if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def _iban(match: re.Match) -> str:
    return FILTERED if _iban_ok(match.group(0)) else match.group(0)


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Literal values of secret-looking environment variables, longest first."""
    environ = os.environ if environ is None else environ
    values = {
        value
        for name, value in environ.items()
        if _SECRET_ENV.search(name) and len(value) >= 8 and not name.endswith("_FILE")
    }
    return sorted(values, key=len, reverse=True)


class Scrubber:
    """Scrubs strings and nested structures. ``extra_secrets`` are literal values to cut."""

    def __init__(self, extra_secrets: Iterable[str] = ()):
        self.secrets = [value for value in extra_secrets if value]

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, FILTERED)
        value = _WEBHOOK.sub(FILTERED, value)
        value = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{FILTERED}@", value)
        value = _CONSOLE_TOKEN.sub(FILTERED, value)
        value = _TWILIO_SID.sub(FILTERED, value)
        value = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", value)
        value = _IBAN.sub(_iban, value)
        value = _ACCOUNT.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} {FILTERED}", value)
        return _CARD.sub(_card, value)

    def data(self, value: Any, depth: int = 0) -> Any:
        """A copy of ``value`` with denied keys filtered and every string scrubbed."""
        if depth > 40:  # a cycle or absurd nesting: drop rather than recurse forever
            return FILTERED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: (
                    FILTERED
                    if isinstance(key, str) and is_denied_key(key) and value_present(item)
                    else self.data(item, depth + 1)
                )
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.data(item, depth + 1) for item in value)
        return value


_SECRET = {key.lower() for key in SECRET_KEYS}


def is_denied_key(key: str) -> bool:
    """A key whose value never leaves the process: a secret or financial data."""
    return key.lower().replace("-", "_") in _DENIED or is_secret_key(key)


def is_secret_key(key: str) -> bool:
    lowered = key.lower().replace("-", "_")
    if lowered in _SECRET:
        return True
    # twilio_auth_token, slack_webhook_url, pagerduty_routing_key...
    return any(
        lowered.endswith(suffix)
        for suffix in ("_token", "_password", "_secret", "_webhook_url", "_routing_key", "_dsn")
    )


def value_present(value: Any) -> bool:
    # Sentry marks a variable it could not serialise with a meta entry, not a value:
    # keep None and empty containers so the event shape stays valid.
    return value not in (None, "", [], {})


def scrub_text(value: str) -> str:
    return Scrubber(secret_values()).text(value)


def scrub_data(value: Any) -> Any:
    return Scrubber(secret_values()).data(value)
