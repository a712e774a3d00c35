"""SMS through Twilio's SDK: one short line per message, critical alerts by default."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings

from notifications.notifiers import DeliveryError, refused
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel
from notifications.urlguard import UnsafeURL, check_url

CONFIG = ("from_number", "to_numbers", "api_base", "timeout")
SECRETS = ("account_sid", "auth_token")
REQUIRED = ("account_sid", "auth_token", "from_number", "to_numbers")
RECIPIENT = "to_numbers"  # a person paged by SMS: their number
URL_KEYS = ("api_base",)
RATE_PER_MINUTE = 0
DEFAULT_MIN_SEVERITY = "critical"
SMS_LENGTH = 160
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


def numbers(config: dict) -> list[str]:
    value = config.get("to_numbers") or []
    return [value] if isinstance(value, str) else list(value)


def check(config: dict, secrets: dict) -> list[str]:
    return [
        f"{number!r} is not a phone number in E.164 form (+15551234567)"
        for number in [config.get("from_number", ""), *numbers(config)]
        if not _PHONE.match(str(number))
    ]


def render(message: Message) -> str:
    """'[CRITICAL] Disk almost full - db-01 http://.../alerts/7/', cut to fit one SMS
    (a page to a person says what a reply does before the link)."""
    link = f" {message.reply_hint} {message.link}" if message.reply_hint else f" {message.link}"
    room = SMS_LENGTH - len(link)
    text = message.headline
    if message.resource and message.resource not in text:
        text += f" on {message.resource}"  # send_alert's node, where the title lacks it
    if len(text) > room:
        text = text[: room - 1] + "…"
    return text + link


def send(channel: NotificationChannel, message: Message) -> int:
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    base = channel.config.get("api_base")
    if base:
        try:
            check_url(base)
        except UnsafeURL as exc:
            raise refused(exc) from None
    timeout = float(channel.config.get("timeout") or settings.NOTIFY_HTTP_TIMEOUT)
    client = Client(
        channel.secrets["account_sid"],
        channel.secrets["auth_token"],
        http_client=TwilioHttpClient(timeout=timeout),
    )
    if base:
        client.api.base_url = base.rstrip("/")
    body = render(message)
    for number in numbers(channel.config):
        try:
            client.messages.create(to=number, from_=channel.config["from_number"], body=body)
        except TwilioRestException as exc:
            code = exc.status
            raise DeliveryError(
                f"Twilio {code}: {exc.msg}",
                code=code,
                permanent=400 <= code < 500 and code not in (408, 429),
            ) from None
        except (TwilioException, OSError) as exc:
            raise DeliveryError(f"Twilio unreachable: {type(exc).__name__}") from None
        except Exception as exc:  # requests' own errors (timeouts, refused connections)
            raise DeliveryError(f"Twilio unreachable: {type(exc).__name__}") from None
    return 201
