"""Email: HTML and plain text in one message, over Django's SMTP backend.

The server comes from the ``EMAIL_*`` settings unless the channel names its own.
"""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.forms import ValidationError
from django.template.loader import render_to_string

from notifications.notifiers import DeliveryError, refused
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel
from notifications.urlguard import UnsafeURL, check_host

CONFIG = ("to", "from_email", "host", "port", "username", "use_tls", "use_ssl", "timeout")
SECRETS = ("password",)
REQUIRED = ("to",)
RECIPIENT = "to"  # a person paged by email: their address
URL_KEYS = ()
RATE_PER_MINUTE = 0


def recipients(config: dict) -> list[str]:
    to = config.get("to") or []
    return [to] if isinstance(to, str) else list(to)


def check(config: dict, secrets: dict) -> list[str]:
    problems = []
    sender = [config["from_email"]] if config.get("from_email") else []
    for address in recipients(config) + sender:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{address!r} is not an email address")
    if config.get("host"):
        try:
            check_host(str(config["host"]), int(config.get("port") or 25))
        except (UnsafeURL, ValueError) as exc:
            problems.append(f"host: {exc}")
    return problems


def render(message: Message) -> tuple[str, str, str]:
    """(subject, text, html)."""
    context = {"m": message, "facts": message.facts()}
    subject = message.headline[:200]
    text = render_to_string("notifications/email.txt", context)
    body = render_to_string("notifications/email.html", context)
    return subject, text, body


def send(channel: NotificationChannel, message: Message) -> int | None:
    config = channel.config
    host = str(config.get("host") or settings.EMAIL_HOST)
    port = int(config.get("port") or settings.EMAIL_PORT)
    if config.get("host"):
        # A server named in the channel is checked like a URL; the EMAIL_HOST of the
        # environment is the operator's own choice (often a relay on localhost).
        try:
            check_host(host, port)
        except UnsafeURL as exc:
            raise refused(exc) from None
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=host,
        port=port,
        username=config.get("username", settings.EMAIL_HOST_USER),
        password=channel.secrets.get("password", settings.EMAIL_HOST_PASSWORD),
        use_tls=bool(config.get("use_tls", settings.EMAIL_USE_TLS)),
        use_ssl=bool(config.get("use_ssl", settings.EMAIL_USE_SSL)),
        timeout=float(config.get("timeout") or settings.EMAIL_TIMEOUT),
        fail_silently=False,
    )
    subject, text, body = render(message)
    mail = EmailMultiAlternatives(
        subject,
        text,
        config.get("from_email") or settings.DEFAULT_FROM_EMAIL,
        recipients(config),
        connection=connection,
        headers={"X-OpsConsole-Key": message.idempotency_key} if message.idempotency_key else None,
    )
    mail.attach_alternative(body, "text/html")
    try:
        mail.send()
    except smtplib.SMTPResponseException as exc:
        # 5xx replies are final (bad recipient, refused); 4xx ones are worth a retry.
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
            code=exc.smtp_code,
            permanent=exc.smtp_code >= 500,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        rejected = ", ".join(exc.recipients)
        raise DeliveryError(f"recipients refused: {rejected}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP error: {type(exc).__name__}: {exc}") from None
    return 250
