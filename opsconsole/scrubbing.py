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

Command lines (``Scrubber.command_line``) get a third pass first: the value after a
secret-looking flag (``--token X``, ``--password=X``, ``-p X``), of a secret-looking
``NAME=value`` or query parameter, after ``Bearer``, and the password in a URL are
replaced by ``***``, keeping the program, its other arguments and the user names, so the
process list still says what runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
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
# A password already masked (command lines keep the user) has nothing left to hide.
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@'\"]+:(?!\*\*\*@)[^/\s@'\"]+@"
)
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


def _is_card(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


# -- command lines -------------------------------------------------------------------------
COMMAND_MASK = "***"
# Words that make a flag, a NAME=value or a query parameter secret: --token, --db-password,
# --api-key, -p (mysql, redis-cli -a), AWS_SECRET_ACCESS_KEY, ?access_token=.
_SECRET_WORD = re.compile(
    r"(?:^|[_.-])(?:pass|passwd|password|pwd|secret|token|key|apikey|auth|credentials?"
    r"|dsn|signature)(?:$|[_.-])",
    re.I,
)
# Where the secret is kept, not the secret: --password-file /run/secrets/db stays readable.
_NOT_A_VALUE = re.compile(r"(?:^no[_-]|[_.-](?:file|path|dir|mode|type|method)$)", re.I)
# mysql's password flag (and psql's port: a port shown as *** is the price of not knowing
# which program reads -p).
_SHORT_SECRET_FLAGS = {"-p"}
# Secret names without a separator in them (redis-server --requirepass).
_GLUED = {"requirepass", "masterauth", "masterpass", "passphrase", "apitoken", "authtoken"}
# Authorization schemes: the word after one is a credential.
_SCHEMES = {"bearer", "basic", "token"}
_SHORT_ATTACHED = re.compile(r"-p\S+")  # mysql's -pSECRET, the password glued to the flag
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# scheme://user:password@ -> the password only; the user name says which account runs.
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@'\"]+:)[^/\s@'\"]+@", re.I)
_SECRET_PARAMETER = re.compile(r"(?<=[?&;])([A-Za-z0-9_.-]+)=[^&\s#]+")


def _secret_flag(flag: str) -> bool:
    """``--token``, ``-p``, ``API_KEY``, ``x-api-key``: a name whose value is a secret."""
    if flag in _SHORT_SECRET_FLAGS or _SHORT_ATTACHED.fullmatch(flag):
        return True
    name = flag.lstrip("-")
    if not name or _NOT_A_VALUE.search(name):
        return False
    return bool(_SECRET_WORD.search(name)) or name.lower() in _GLUED or is_secret_key(name)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Literal values of secret-looking environment variables, longest first."""
    environ = os.environ if environ is None else environ
    values = {
        value
        for name, value in environ.items()
        if _SECRET_ENV.search(name) and len(value) >= 8 and not name.endswith("_FILE")
    }
    return sorted(values, key=len, reverse=True)


class Scrubber:
    """Scrubs strings and nested structures. ``extra_secrets`` are literal values to cut;
    ``mask`` is what takes the place of what was cut."""

    def __init__(self, extra_secrets: Iterable[str] = (), *, mask: str = FILTERED):
        self.secrets = [value for value in extra_secrets if value]
        self.mask = mask

    def text(self, value: str) -> str:
        mask = self.mask
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, mask)
        value = _WEBHOOK.sub(mask, value)
        value = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{mask}@", value)
        value = _CONSOLE_TOKEN.sub(mask, value)
        value = _TWILIO_SID.sub(mask, value)
        value = _BEARER.sub(lambda m: f"{m.group(1)} {mask}", value)
        value = _IBAN.sub(lambda m: mask if _iban_ok(m.group(0)) else m.group(0), value)
        value = _ACCOUNT.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} {mask}", value)
        return _CARD.sub(lambda m: mask if _is_card(m.group(0)) else m.group(0), value)

    def command_line(self, value: str) -> str:
        """A process's command line with its secret arguments masked (see the module)."""
        words = value.split(" ")
        hide_next = False
        for index, word in enumerate(words):
            if hide_next and word.lower() in _SCHEMES:
                continue  # "Authorization: Bearer X": X is the secret
            if hide_next and word and not word.startswith("--"):
                words[index] = COMMAND_MASK
                hide_next = False
                continue
            hide_next = hide_next and not word  # a flag after a flag: the first had no value
            flag, equals, _given = word.partition("=")
            if flag.startswith("-") and _secret_flag(flag):
                if equals:
                    words[index] = f"{flag}={COMMAND_MASK}"
                elif _SHORT_ATTACHED.fullmatch(flag):
                    words[index] = f"{flag[:2]}{COMMAND_MASK}"  # mysql -pSECRET
                else:
                    hide_next = True
            elif word.lower() in _SCHEMES or (word.endswith(":") and _secret_flag(word[:-1])):
                hide_next = True  # -H "Authorization: Bearer X", -H "X-Api-Key: X"
            elif equals and _ASSIGNMENT.fullmatch(flag) and _secret_flag(flag):
                words[index] = f"{flag}={COMMAND_MASK}"  # AWS_SECRET_ACCESS_KEY=X, db.password=X
        value = " ".join(words)
        value = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{COMMAND_MASK}@", value)
        value = _SECRET_PARAMETER.sub(
            lambda m: f"{m.group(1)}={COMMAND_MASK}" if _secret_flag(m.group(1)) else m.group(0),
            value,
        )
        return Scrubber(self.secrets, mask=COMMAND_MASK).text(value)

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


def scrub_command_line(value: str) -> str:
    return Scrubber(secret_values()).command_line(value)
