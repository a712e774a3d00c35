"""One module per channel kind. Each defines:

- ``CONFIG`` / ``SECRETS``: the keys it reads, required ones first (``REQUIRED``);
- ``URL_KEYS``: keys whose values are URLs the console will connect to (SSRF-checked);
- ``RATE_PER_MINUTE``: the service's own limit, used unless the channel sets one;
- ``send(channel, message) -> int | None``: deliver, return the response code, or raise
  ``DeliveryError`` (``permanent`` when a retry cannot help).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import threading
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import cast
from urllib.parse import urljoin

import httpx
from django.conf import settings
from django.utils import timezone

from notifications.urlguard import Unresolvable, UnsafeURL, check_url, guard
from opsconsole.scrubbing import COMMAND_MASK, Scrubber, secret_values

MAX_REDIRECTS = 3
BODY_EXCERPT = 200


class DeliveryError(Exception):
    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
        self.permanent = permanent


def notifier(kind: str) -> ModuleType:
    return importlib.import_module(f"notifications.notifiers.{kind}")


def available_kinds() -> list[str]:
    from notifications.models import ChannelKind

    kinds = list(ChannelKind.values)
    if not apprise_installed():
        kinds.remove(ChannelKind.APPRISE)
    return kinds


def apprise_installed() -> bool:
    return importlib.util.find_spec("apprise") is not None


def addressed(channel, context: dict | None):
    """The channel as it sends one message to one person: its settings (server,
    account, bot) with the person's address (``context["to"]``) in place of its own
    recipients, for kinds that name a ``RECIPIENT`` setting. The stored channel is
    left alone."""
    to = (context or {}).get("to")
    key = getattr(notifier(channel.kind), "RECIPIENT", None)
    if not to or not key:
        return channel
    personal = copy.copy(channel)
    personal.config = {**(channel.config or {}), key: to}
    return personal


def validate(kind: str, config: dict, secrets: dict) -> list[str]:
    """Problems with a channel's settings, one line each (empty when it is usable)."""
    if kind not in available_kinds():
        return [f"kind must be one of: {', '.join(available_kinds())}"]
    module = notifier(kind)
    problems = []
    values = {**config, **secrets}
    for key in getattr(module, "REQUIRED", ()):
        if values.get(key) in (None, "", []):
            where = "secrets" if key in module.SECRETS else "config"
            problems.append(f"{where}.{key} is required for a {kind} channel")
    known = set(module.CONFIG) | set(module.SECRETS)
    for key in set(config) - set(module.CONFIG):
        if key in module.SECRETS:
            problems.append(f"{key} is a secret: put it in secrets, not config")
        else:
            problems.append(f"config.{key} is not a {kind} setting (known: {', '.join(known)})")
    for key in set(secrets) - set(module.SECRETS):
        names = ", ".join(module.SECRETS) or "none"
        problems.append(f"secrets.{key} is not a {kind} secret (known: {names})")
    for key in getattr(module, "URL_KEYS", ()):
        if values.get(key):
            try:
                check_url(values[key])
            except UnsafeURL as exc:
                problems.append(f"{key}: {exc}")
    check = getattr(module, "check", None)
    if check is not None and not problems:
        problems.extend(check(config, secrets))
    return problems


def redact(text: str, secrets: dict) -> str:
    """Remove every secret value of the channel (and its URL path) from a message meant
    for logs and the delivery log, and what the console's scrubber removes everywhere
    (card numbers, tokens, credentials in URLs): a receiver's error body is shown on the
    alert page to viewers."""
    pieces = [piece for value in secrets.values() for piece in _secret_pieces(value)]
    # Longest first, so a URL goes whole before its path is looked for.
    known = sorted({*pieces, *secret_values()}, key=len, reverse=True)
    return Scrubber(known, mask=COMMAND_MASK).text(text)


def _secret_pieces(value) -> list[str]:
    if isinstance(value, dict):  # a webhook's headers: their values
        return [p for v in value.values() for p in _secret_pieces(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in _secret_pieces(v)]
    text = str(value or "")
    if len(text) < 4:
        return []
    pieces = [text]
    if "://" in text:
        path = text.split("://", 1)[1].partition("/")[2]
        if len(path) >= 4:
            pieces.append(path)
    return pieces


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http_client() -> httpx.Client:
    """One pooled client per process: connections to a channel are reused."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                follow_redirects=False, headers={"User-Agent": "OpsConsole-notifier/1"}
            )
            # The direct transport only: HTTP(S)_PROXY from the environment still
            # applies (a transport= argument would make httpx drop it).
            guard(cast(httpx.HTTPTransport, _client._transport))
        return _client


def refused(exc: UnsafeURL) -> DeliveryError:
    """The guard's refusal as a delivery outcome: for good, unless the name did not
    resolve, which a resolver's hiccup can cause, so that one is retried."""
    if isinstance(exc, Unresolvable):
        return DeliveryError(f"network error: {exc}")
    return DeliveryError(f"refused: {exc}", permanent=True)


def post(channel, url: str, **kwargs) -> httpx.Response:
    """POST with the SSRF guard at every hop (redirects are followed by hand so each
    target is checked), and failures classified for the retry policy."""
    timeout = float(channel.config.get("timeout") or settings.NOTIFY_HTTP_TIMEOUT)
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            check_url(url)
            response = http_client().post(url, timeout=timeout, **kwargs)
        except UnsafeURL as exc:
            # Before the request, or the connection's own check (the name resolved
            # differently than a moment ago).
            raise refused(exc) from None
        except httpx.TimeoutException:
            raise DeliveryError(f"no answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"network error: {type(exc).__name__}: {exc}") from None
        location = response.headers.get("location")
        if response.is_redirect and location:
            url = urljoin(url, location)
            continue
        classify(response)
        return response
    raise DeliveryError(f"more than {MAX_REDIRECTS} redirects", permanent=True)


def classify(response: httpx.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    excerpt = response.text[:BODY_EXCERPT].strip()
    message = f"HTTP {code}" + (f": {excerpt}" if excerpt else "")
    if code == 429 or code == 408 or code >= 500:
        raise DeliveryError(
            message, code=code, retry_after=retry_after(response.headers.get("retry-after"))
        )
    raise DeliveryError(message, code=code, permanent=True)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)
