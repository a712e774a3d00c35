"""Telegram bots: sendMessage with HTML (default) or MarkdownV2, each escaped by its rules."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from notifications.notifiers import DeliveryError, post
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel

API_BASE = "https://api.telegram.org"
CONFIG = ("chat_id", "parse_mode", "api_base", "timeout")
SECRETS = ("bot_token",)
REQUIRED = ("bot_token", "chat_id")
RECIPIENT = "chat_id"  # a person paged on Telegram: their chat
URL_KEYS = ("api_base",)
RATE_PER_MINUTE = 20  # Telegram: 20 messages a minute to one group

# Every character MarkdownV2 reserves must be preceded by a backslash outside entities.
_MARKDOWN_V2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")


def escape_markdown_v2(text: str) -> str:
    return _MARKDOWN_V2_SPECIAL.sub(r"\\\1", text)


def render(message: Message, parse_mode: str = "HTML") -> str:
    if parse_mode == "MarkdownV2":
        e: Callable[..., str] = escape_markdown_v2
        lines = [f"*{e(message.headline)}*", e(message.text), ""]
        lines += [f"_{e(name)}_: {e(value)}" for name, value in message.facts()]
        if message.recommendations and not message.resolved:
            lines += ["", "*What to do*", *(f"• {e(tip)}" for tip in message.recommendations[:5])]
        # Inside (...) of a link only ) and \ need escaping.
        link = message.link.replace("\\", "\\\\").replace(")", "\\)")
        lines += ["", f"[Open in OpsConsole]({link})"]
        for action in message.actions:
            url = action["url"].replace("\\", "\\\\").replace(")", "\\)")
            lines.append(f"[{e(action['label'])}]({url})")
        return "\n".join(lines)
    e = html.escape
    lines = [f"<b>{e(message.headline)}</b>", e(message.text), ""]
    lines += [f"<i>{e(name)}</i>: {e(value)}" for name, value in message.facts()]
    if message.recommendations and not message.resolved:
        lines += ["", "<b>What to do</b>", *(f"• {e(tip)}" for tip in message.recommendations[:5])]
    lines += ["", f'<a href="{e(message.link, quote=True)}">Open in OpsConsole</a>']
    lines += [f'<a href="{e(a["url"], quote=True)}">{e(a["label"])}</a>' for a in message.actions]
    return "\n".join(lines)


def check(config: dict, secrets: dict) -> list[str]:
    if config.get("parse_mode", "HTML") not in ("HTML", "MarkdownV2"):
        return ["config.parse_mode must be HTML or MarkdownV2"]
    return []


def send(channel: NotificationChannel, message: Message) -> int:
    parse_mode = channel.config.get("parse_mode") or "HTML"
    base = (channel.config.get("api_base") or API_BASE).rstrip("/")
    body = {
        "chat_id": channel.config["chat_id"],
        "text": render(message, parse_mode)[:4096],
        "parse_mode": parse_mode,
        "disable_web_page_preview": True,
    }
    response = post(channel, f"{base}/bot{channel.secrets['bot_token']}/sendMessage", json=body)
    try:
        ok = response.json().get("ok", True)
    except ValueError:
        ok = True
    if not ok:
        raise DeliveryError(f"Telegram refused the message: {response.text[:200]}", permanent=True)
    return response.status_code
