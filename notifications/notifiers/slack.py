"""Slack incoming webhooks: Block Kit, with plain text for notifications and old clients."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.notifiers import DeliveryError, post
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel

API_BASE = "https://slack.com/api"
CONFIG = ("timeout", "api_base")
# An incoming webhook posts to its channel; a bot token (chat:write) also lets the
# console message a person directly (a page to a Slack member).
SECRETS = ("webhook_url", "bot_token")
REQUIRED = ()
URL_KEYS = ("webhook_url", "api_base")
# A page to a person: their member id, messaged by the bot when there is one (else
# mentioned in the webhook's channel).
RECIPIENT = "member"
RATE_PER_MINUTE = 60  # Slack: about one message a second per webhook


def check(config: dict, secrets: dict) -> list[str]:
    if not secrets.get("webhook_url") and not secrets.get("bot_token"):
        return [
            "secrets.webhook_url is required for a slack channel (or secrets.bot_token, "
            "a bot that can also message people directly)"
        ]
    return []


_EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "error": ":red_circle:",
    "critical": ":rotating_light:",
}


def _escape(text: str) -> str:
    # Slack's mrkdwn treats only these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(message: Message) -> dict:
    emoji = ":white_check_mark:" if message.resolved else _EMOJI.get(message.severity, "")
    mention = f"<@{message.mention}> " if message.mention else ""
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{message.headline}"[:150], "emoji": True},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{mention}{emoji} {_escape(message.text)}"[:3000]},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_escape(value)}"}
                for name, value in message.facts()[:10]
            ],
        },
    ]
    if message.recommendations and not message.resolved:
        tips = "\n".join(f"• {_escape(tip)}" for tip in message.recommendations[:5])
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*What to do*\n{tips}"}}
        )
    # A page to a person: buttons that act as them (the console's Slack interactivity
    # endpoint), and the same actions as signed links for a webhook without it.
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": action["label"]},
            "action_id": f"opsconsole_{action['action']}",
            "value": action["value"],
            **({"style": "primary"} if action["action"] == "acknowledge" else {}),
        }
        for action in message.actions
        if action.get("value")
    ]
    blocks.append(
        {
            "type": "actions",
            "elements": [
                *buttons,
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in OpsConsole"},
                    "url": message.link,
                },
            ],
        }
    )
    if message.actions:
        links = " · ".join(f"<{a['url']}|{_escape(a['label'])}>" for a in message.actions)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    return {
        "text": f"{mention}{message.headline}: {message.text} <{message.link}|open>",
        "blocks": blocks,
    }


def send(channel: NotificationChannel, message: Message) -> int:
    member, token = channel.config.get("member"), channel.secrets.get("bot_token")
    if member and token:
        base = (channel.config.get("api_base") or API_BASE).rstrip("/")
        body = {**render(message), "channel": member}
        response = post(
            channel,
            f"{base}/chat.postMessage",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not answer.get("ok", False):
            error = answer.get("error", "no answer")
            # Slack's own rate limit is the one error worth a retry.
            raise DeliveryError(f"Slack refused: {error}", permanent=error != "ratelimited")
        return response.status_code
    if not channel.secrets.get("webhook_url"):
        raise DeliveryError(
            "this Slack channel has only a bot token: no channel to post to", permanent=True
        )
    response = post(channel, channel.secrets["webhook_url"], json=render(message))
    return response.status_code
