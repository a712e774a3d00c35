"""The API's shapes for channels, routing rules and the delivery log.

A channel's ``config`` and ``secrets`` are typed per kind: the create body is a union
discriminated on ``kind``, one schema per kind naming the keys its notifier reads
(``notifications.notifiers.<kind>.CONFIG`` / ``SECRETS``), so the OpenAPI document
says what each kind takes and an unknown key is a 422 that says where it belongs. A
PATCH cannot change the kind: its settings are checked against the stored one's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, ValidationError, model_validator

from notifications.channels import secret_names
from notifications.models import (
    GROUP_FIELDS,
    MAX_GROUP_SECONDS,
    NO_GROUPING,
    ChannelKind,
    DeliveryStatus,
    Transition,
    default_group_by,
)
from notifications.notifiers import notifier
from opsconsole.apitools import RowRef

# A request's own timeout for a channel's service, seconds (blank: the console's).
Timeout = Annotated[int | float | None, Field(gt=0, le=300)]
Url = Annotated[str | None, Field(max_length=2000)]
Text = Annotated[str | None, Field(max_length=500)]
MAX_PAGE = 200
Secret = Annotated[str | None, Field(max_length=2000, description="null or '' removes it")]


# -- a channel's settings, per kind ---------------------------------------------------------
class KindSettings(Schema):
    """The keys one kind's notifier reads in ``config`` (or ``secrets``), none other: a
    key of the wrong half or of no use is refused with what the kind does take."""

    model_config = ConfigDict(extra="forbid")
    KIND: ClassVar[str] = ""
    HALF: ClassVar[Literal["config", "secrets"]] = "config"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and (problems := unknown_key_problems(cls, data)):
            raise ValueError("; ".join(problems))
        return data


def unknown_key_problems(schema: type[KindSettings], data: dict) -> list[str]:
    """Today's wording, shared with the admin and config files (notifiers.validate)."""
    module = notifier(schema.KIND)
    problems = []
    for key in sorted(set(data) - set(schema.model_fields), key=str):
        if schema.HALF == "config" and key in module.SECRETS:
            problems.append(f"{key} is a secret: put it in secrets, not config")
        elif schema.HALF == "config":
            known = ", ".join([*module.CONFIG, *module.SECRETS])
            problems.append(f"config.{key} is not a {schema.KIND} setting (known: {known})")
        else:
            names = ", ".join(module.SECRETS) or "none"
            problems.append(f"secrets.{key} is not a {schema.KIND} secret (known: {names})")
    return problems


class SlackConfig(KindSettings):
    KIND = ChannelKind.SLACK
    timeout: Timeout = None
    api_base: Url = Field(default=None, description="the Web API's base (a bot token's messages)")


class SlackSecrets(KindSettings):
    KIND, HALF = ChannelKind.SLACK, "secrets"
    webhook_url: Secret = Field(default=None, description="an incoming webhook (this or bot_token)")
    bot_token: Secret = Field(default=None, description="chat:write, to message a member directly")


class EmailConfig(KindSettings):
    KIND = ChannelKind.EMAIL
    to: str | list[str] | None = Field(default=None, description="an address or a list of them")
    from_email: Text = None
    host: Text = Field(default=None, description="SMTP server (blank: the console's)")
    port: int | None = Field(default=None, ge=1, le=65535)
    username: Text = None
    use_tls: bool | None = None
    use_ssl: bool | None = None
    timeout: Timeout = None


class EmailSecrets(KindSettings):
    KIND, HALF = ChannelKind.EMAIL, "secrets"
    password: Secret = None


class SmsConfig(KindSettings):
    KIND = ChannelKind.SMS
    from_number: Text = Field(default=None, description="E.164: +15551234567")
    to_numbers: str | list[str] | None = Field(default=None, description="E.164 numbers")
    api_base: Url = None
    timeout: Timeout = None


class SmsSecrets(KindSettings):
    KIND, HALF = ChannelKind.SMS, "secrets"
    account_sid: Secret = None
    auth_token: Secret = None


class PagerDutyConfig(KindSettings):
    KIND = ChannelKind.PAGERDUTY
    url: Url = Field(default=None, description="the Events API (blank: PagerDuty's)")
    component: Text = None
    group: Text = None
    timeout: Timeout = None


class PagerDutySecrets(KindSettings):
    KIND, HALF = ChannelKind.PAGERDUTY, "secrets"
    routing_key: Secret = None


class DiscordConfig(KindSettings):
    KIND = ChannelKind.DISCORD
    username: Text = None
    timeout: Timeout = None


class DiscordSecrets(KindSettings):
    KIND, HALF = ChannelKind.DISCORD, "secrets"
    webhook_url: Secret = None


class TelegramConfig(KindSettings):
    KIND = ChannelKind.TELEGRAM
    chat_id: int | str | None = None
    parse_mode: Text = Field(default=None, description="HTML (the default) or MarkdownV2")
    api_base: Url = None
    timeout: Timeout = None


class TelegramSecrets(KindSettings):
    KIND, HALF = ChannelKind.TELEGRAM, "secrets"
    bot_token: Secret = None


class WebhookConfig(KindSettings):
    KIND = ChannelKind.WEBHOOK
    timeout: Timeout = None


class WebhookSecrets(KindSettings):
    KIND, HALF = ChannelKind.WEBHOOK, "secrets"
    url: Secret = None
    signing_secret: Secret = None
    headers: dict[str, str | None] | None = Field(
        default=None,
        description='sent with each request: {"Authorization": "Bearer ..."}; '
        "merged one by one, null or '' removes one",
    )


class DashboardConfig(KindSettings):
    KIND = ChannelKind.DASHBOARD


class DashboardSecrets(KindSettings):
    KIND, HALF = ChannelKind.DASHBOARD, "secrets"


class AppriseConfig(KindSettings):
    KIND = ChannelKind.APPRISE


class AppriseSecrets(KindSettings):
    KIND, HALF = ChannelKind.APPRISE, "secrets"
    url: Secret = Field(default=None, description="an apprise URL (teams://..., matrix://...)")


class LogConfig(KindSettings):
    KIND = ChannelKind.LOG
    level: Text = Field(default=None, description="debug ... critical (blank: the severity's)")


class LogSecrets(KindSettings):
    KIND, HALF = ChannelKind.LOG, "secrets"


# kind -> (config schema, secrets schema)
SETTINGS: dict[str, tuple[type[KindSettings], type[KindSettings]]] = {
    ChannelKind.SLACK: (SlackConfig, SlackSecrets),
    ChannelKind.EMAIL: (EmailConfig, EmailSecrets),
    ChannelKind.SMS: (SmsConfig, SmsSecrets),
    ChannelKind.PAGERDUTY: (PagerDutyConfig, PagerDutySecrets),
    ChannelKind.DISCORD: (DiscordConfig, DiscordSecrets),
    ChannelKind.TELEGRAM: (TelegramConfig, TelegramSecrets),
    ChannelKind.WEBHOOK: (WebhookConfig, WebhookSecrets),
    ChannelKind.DASHBOARD: (DashboardConfig, DashboardSecrets),
    ChannelKind.APPRISE: (AppriseConfig, AppriseSecrets),
    ChannelKind.LOG: (LogConfig, LogSecrets),
}


def settings_problems(kind: str, config: dict | None, secrets: dict | None) -> list[str]:
    """What is wrong with a PATCH's settings for a channel of ``kind``, one line each."""
    problems = []
    for schema, data in zip(SETTINGS.get(kind, ()), (config, secrets), strict=False):
        if data is None:
            continue
        try:
            schema.model_validate(data)
        except ValidationError as exc:
            problems.extend(_lines(schema.HALF, exc))
    return problems


def _lines(half: str, exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        where = ".".join([half, *map(str, error["loc"])])
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(message if not error["loc"] else f"{where}: {message}")
    return lines


def settings_dump(settings: KindSettings) -> dict[str, Any]:
    """The keys sent, as sent: a key left out is not stored as null (a notifier reads
    a missing key as "the console's default")."""
    return settings.model_dump(exclude_unset=True)


# -- channels -------------------------------------------------------------------------------
class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    config: dict[str, Any] = Field(..., description="the kind's settings, as in its *Config")
    secrets_set: list[str] = Field(..., description="names of the secrets stored")
    min_severity: str
    enabled: bool
    send_resolved: bool
    rate_limit_per_minute: int | None
    consecutive_failures: int
    circuit_open_until: datetime | None
    created: datetime
    updated: datetime

    @staticmethod
    def resolve_secrets_set(obj) -> list[str]:
        return secret_names(obj)


class ChannelFields(Schema):
    """What every kind of channel has."""

    name: str = Field(..., min_length=1, max_length=100)
    min_severity: str | None = Field(None, description="blank: info (critical for sms)")
    enabled: bool = True
    send_resolved: bool = True
    rate_limit_per_minute: int | None = Field(None, ge=0)


class SlackChannelIn(ChannelFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ops-slack",
                    "kind": "slack",
                    "config": {"timeout": 5},
                    "secrets": {"webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"},
                    "min_severity": "warning",
                }
            ]
        }
    )
    kind: Literal["slack"]
    config: SlackConfig = SlackConfig()
    secrets: SlackSecrets = SlackSecrets()


class EmailChannelIn(ChannelFields):
    kind: Literal["email"]
    config: EmailConfig = EmailConfig()
    secrets: EmailSecrets = EmailSecrets()


class SmsChannelIn(ChannelFields):
    kind: Literal["sms"]
    config: SmsConfig = SmsConfig()
    secrets: SmsSecrets = SmsSecrets()


class PagerDutyChannelIn(ChannelFields):
    kind: Literal["pagerduty"]
    config: PagerDutyConfig = PagerDutyConfig()
    secrets: PagerDutySecrets = PagerDutySecrets()


class DiscordChannelIn(ChannelFields):
    kind: Literal["discord"]
    config: DiscordConfig = DiscordConfig()
    secrets: DiscordSecrets = DiscordSecrets()


class TelegramChannelIn(ChannelFields):
    kind: Literal["telegram"]
    config: TelegramConfig = TelegramConfig()
    secrets: TelegramSecrets = TelegramSecrets()


class WebhookChannelIn(ChannelFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ops-webhook",
                    "kind": "webhook",
                    "secrets": {
                        "url": "https://hooks.example.com/alerts",
                        "headers": {"Authorization": "Bearer ..."},
                    },
                }
            ]
        }
    )
    kind: Literal["webhook"]
    config: WebhookConfig = WebhookConfig()
    secrets: WebhookSecrets = WebhookSecrets()


class DashboardChannelIn(ChannelFields):
    kind: Literal["dashboard"]
    config: DashboardConfig = DashboardConfig()
    secrets: DashboardSecrets = DashboardSecrets()


class AppriseChannelIn(ChannelFields):
    kind: Literal["apprise"]
    config: AppriseConfig = AppriseConfig()
    secrets: AppriseSecrets = AppriseSecrets()


class LogChannelIn(ChannelFields):
    kind: Literal["log"]
    config: LogConfig = LogConfig()
    secrets: LogSecrets = LogSecrets()


ChannelIn = Annotated[
    SlackChannelIn
    | EmailChannelIn
    | SmsChannelIn
    | PagerDutyChannelIn
    | DiscordChannelIn
    | TelegramChannelIn
    | WebhookChannelIn
    | DashboardChannelIn
    | AppriseChannelIn
    | LogChannelIn,
    Field(discriminator="kind"),
]


def channel_fields(payload: ChannelFields) -> dict[str, Any]:
    """A create body as save_channel takes it: the kind's settings as sent."""
    fields = payload.model_dump(exclude={"config", "secrets"})
    fields["config"] = settings_dump(payload.config)  # type: ignore[attr-defined]
    fields["secrets"] = settings_dump(payload.secrets)  # type: ignore[attr-defined]
    return fields


class ChannelPatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": False}, {"secrets": {"webhook_url": None}}]},
    )
    name: str | None = Field(None, min_length=1, max_length=100)
    config: dict[str, Any] | None = Field(
        None, description="replaced whole; the keys of the channel's kind (its *Config)"
    )
    secrets: dict[str, Any] | None = Field(
        None,
        description="merged, headers one by one; null or '' removes one; the keys of the "
        "channel's kind (its *Secrets)",
    )
    min_severity: str | None = None
    enabled: bool | None = None
    send_resolved: bool | None = None
    rate_limit_per_minute: int | None = Field(None, ge=0)


class RoutingRuleOut(Schema):
    id: int
    name: str
    position: int
    enabled: bool
    severities: list[str]
    categories: list[str]
    label_matchers: dict[str, str]
    channel_kinds: list[str]
    all_channels: bool
    channels: list[int]
    group_by: list[str]
    group_wait: int
    group_interval: int
    repeat_interval: int

    @staticmethod
    def resolve_channels(obj) -> list[int]:
        return sorted(c.pk for c in obj.channels.all())


class RoutingRulePatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"severities": ["critical"]}]}
    )
    name: str | None = Field(None, min_length=1, max_length=100)
    position: int | None = Field(None, ge=0)
    enabled: bool | None = None
    severities: list[str] | None = None
    categories: list[str] | None = None
    label_matchers: dict[str, str] | None = None
    channel_kinds: list[str] | None = None
    all_channels: bool | None = None
    channels: list[RowRef] | None = Field(None, description="channel ids")
    group_by: list[str] | None = Field(None, description="field or label names to group by")
    group_wait: int | None = Field(None, ge=0, le=MAX_GROUP_SECONDS)
    group_interval: int | None = Field(None, ge=0, le=MAX_GROUP_SECONDS)
    repeat_interval: int | None = Field(None, ge=60, le=MAX_GROUP_SECONDS)


class RoutingRuleIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "payments errors to Slack and email",
                    "severities": ["error", "critical"],
                    "label_matchers": {"team": "payments"},
                    "channel_kinds": ["slack", "email"],
                }
            ]
        }
    )
    name: str = Field(..., min_length=1, max_length=100)
    position: int = Field(100, ge=0)
    enabled: bool = True
    severities: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    label_matchers: dict[str, str] = Field(default_factory=dict)
    channel_kinds: list[str] = Field(default_factory=list)
    all_channels: bool = False
    channels: list[RowRef] = Field(default_factory=list, description="channel ids")
    group_by: list[str] = Field(
        default_factory=default_group_by,
        description=f"Any of {', '.join(GROUP_FIELDS)} or label names; "
        f'["{NO_GROUPING}"] sends one message per alert.',
        examples=[["rule"], ["rule", "host"], [NO_GROUPING]],
    )
    group_wait: int = Field(
        30, ge=0, le=MAX_GROUP_SECONDS, description="seconds a new group waits for more alerts"
    )
    group_interval: int = Field(
        300, ge=0, le=MAX_GROUP_SECONDS, description="seconds at least between a group's messages"
    )
    repeat_interval: int = Field(
        4 * 3600,
        ge=60,
        le=MAX_GROUP_SECONDS,
        description="seconds before an unchanged, unacknowledged group is sent again",
    )


class NotificationOut(Schema):
    id: int
    alert_id: int | None
    channel_id: int
    channel: str
    transition: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    response_code: int | None
    idempotency_key: str
    created: datetime
    sent_at: datetime | None

    @staticmethod
    def resolve_channel(obj) -> str:
        return obj.channel.name


class NotificationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[NotificationOut]


class NotificationFilters(Schema):
    status: str | None = Field(None, description=", ".join(DeliveryStatus.values))
    channel: int | None = Field(None, description="channel id")
    alert: int | None = Field(None, description="alert id")
    transition: str | None = Field(None, description=", ".join(Transition.values))
    since: datetime | None = Field(None, description="created at or after")
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


class TestResult(Schema):
    ok: bool
    status: str
    response_code: int | None
    error: str
    notification_id: int
