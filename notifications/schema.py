"""The API's shapes for channels, routing rules and the delivery log.

A channel's ``config`` and ``secrets`` are typed per kind. Which keys a kind takes is
its notifier's ``CONFIG`` / ``SECRETS`` (``notifications.notifiers.<kind>``); how each
key is typed and described is said once here (``CONFIG_TYPES``, ``SECRET_TYPES``,
``ABOUT``, ``ABOUT_KIND``). The per-kind schemas (``SlackConfig``, ``SlackSecrets``,
...) and bodies (``SlackChannelIn``, ...) are made from the two with ``create_model``.
The create body is a union discriminated on ``kind``, so the OpenAPI document says what
each kind takes and an unknown key is a 422 that says where it belongs. A PATCH cannot
change the kind and does not name it: its ``config`` and ``secrets`` are one of the
kinds' schemas (to the document and to validation), then checked against the stored
kind's (``ChannelPatch.changes``). Answers that are a model's row are ninja
``ModelSchema``s naming the model's fields, with what the API adds beside them.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from ninja import ModelSchema, Schema
from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from notifications.channels import ChannelError, secret_names
from notifications.models import (
    GROUP_FIELDS,
    MAX_GROUP_SECONDS,
    NO_GROUPING,
    ChannelKind,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
    default_group_by,
)
from notifications.notifiers import notifier
from opsconsole.apitools import RowRef, StoredColumns

MAX_PAGE = 200
Half = Literal["config", "secrets"]
HALVES: tuple[Half, Half] = ("config", "secrets")
NOUNS: dict[Half, str] = {"config": "setting", "secrets": "secret"}

# -- how each key a notifier reads is typed and described -----------------------------------
# A request's own timeout for a channel's service, seconds (blank: the console's).
Timeout = Annotated[int | float | None, Field(gt=0, le=300)]
Url = Annotated[str | None, Field(max_length=2000)]
Text = Annotated[str | None, Field(max_length=500)]
Secret = Annotated[str | None, Field(max_length=2000)]
OneOrMore = str | list[str] | None

# A config key not named here is Text, a secret not named here is a Secret.
CONFIG_TYPES: dict[str, Any] = {
    "timeout": Timeout,
    "api_base": Url,
    "url": Url,
    "to": OneOrMore,
    "to_numbers": OneOrMore,
    "port": Annotated[int | None, Field(ge=1, le=65535)],
    "use_tls": bool | None,
    "use_ssl": bool | None,
    "chat_id": int | str | None,
}
SECRET_TYPES: dict[str, Any] = {"headers": dict[str, str | None] | None}

# What each key is, by name.
ABOUT: dict[str, str] = {
    "timeout": "seconds to wait for the service (blank: the console's)",
    "api_base": "the service's API base, to go through a proxy or a test server",
    "to": "an address or a list of them",
    "from_email": "the sender's address (blank: DEFAULT_FROM_EMAIL)",
    "host": "SMTP server (blank: the console's)",
    "port": "SMTP port (blank: the console's)",
    "use_tls": "STARTTLS",
    "use_ssl": "SSL",
    "password": "the SMTP password",
    "from_number": "E.164: +15551234567",
    "to_numbers": "E.164 numbers",
    "account_sid": "Twilio's account SID",
    "auth_token": "Twilio's auth token",
    "component": "PagerDuty's component (blank: the alert's resource)",
    "group": "PagerDuty's logical group of components",
    "routing_key": "the Events API v2 routing key of the service",
    "chat_id": "the chat, group or channel (@name or -100...)",
    "parse_mode": "HTML (the default) or MarkdownV2",
    "signing_secret": "signs each body (X-OpsConsole-Signature; blank: unsigned)",
    "headers": 'sent with each request: {"Authorization": "Bearer ..."}; '
    "merged one by one, null or '' removes one",
    "level": "debug ... critical (blank: the severity's)",
}

# Where a kind reads a key its own way.
ABOUT_KIND: dict[tuple[str, str], str] = {
    ("slack", "api_base"): "the Web API's base (a bot token's messages)",
    ("slack", "webhook_url"): "an incoming webhook (this or bot_token)",
    ("discord", "webhook_url"): "the Discord channel's webhook",
    ("slack", "bot_token"): "chat:write, to message a member directly",
    ("telegram", "bot_token"): "from @BotFather: 123456:ABC...",
    ("email", "username"): "the SMTP login",
    ("discord", "username"): "shown as the sender",
    ("pagerduty", "url"): "the Events API (blank: PagerDuty's)",
    ("webhook", "url"): "where each message is posted",
    ("apprise", "url"): "an apprise URL (teams://..., matrix://...)",
}

# The kinds' names in the document's schema names (SlackConfig, PagerDutySecrets, ...).
NAMES = {kind: kind.title() for kind in ChannelKind.values} | {ChannelKind.PAGERDUTY: "PagerDuty"}


# -- a channel's settings, per kind ---------------------------------------------------------
class KindSettings(Schema):
    """The keys one kind's notifier reads in ``config`` (or ``secrets``), none other: a
    key of the wrong half or of no use is refused with what the kind does take."""

    model_config = ConfigDict(extra="forbid")
    KIND: ClassVar[str] = ""
    HALF: ClassVar[Half] = "config"

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


def _key_field(kind: str, half: Half, key: str) -> tuple[Any, Any]:
    about = ABOUT_KIND.get((kind, key)) or ABOUT[key]
    if half == "config":
        return CONFIG_TYPES.get(key, Text), Field(None, description=about)
    if key in SECRET_TYPES:
        return SECRET_TYPES[key], Field(None, description=about)
    return Secret, Field(None, description=f"{about}; null or '' removes it")


def _settings_schema(kind: str, half: Half) -> type[KindSettings]:
    """The schema of one kind's ``config`` or ``secrets``: the keys its notifier reads,
    in its order, each optional (a key left out is the kind's default, or unchanged)."""
    module = notifier(kind)
    keys: tuple[str, ...] = module.CONFIG if half == "config" else module.SECRETS
    fields: dict[str, Any] = {key: _key_field(kind, half, key) for key in keys}
    schema = create_model(
        f"{NAMES[kind]}{half.title()}",
        __base__=KindSettings,
        __module__=__name__,
        __doc__=f"What a {kind} channel takes in {half}.",
        **fields,
    )
    schema.KIND, schema.HALF = kind, half
    return schema


# kind -> (config schema, secrets schema)
SETTINGS: dict[str, tuple[type[KindSettings], type[KindSettings]]] = {
    kind: (_settings_schema(kind, "config"), _settings_schema(kind, "secrets"))
    for kind in ChannelKind.values
}


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


def _every_key(half: Half) -> set[str]:
    return {key for pair in SETTINGS.values() for key in pair[HALVES.index(half)].model_fields}


def _any_kind(half: Half) -> WrapValidator:
    """A PATCH's ``config`` or ``secrets``: one of the kinds' schemas (the handler then
    checks it against the stored kind's). Where none takes it, the 422 says why in one
    line rather than each kind's complaint."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            if not isinstance(value, dict):
                raise PydanticCustomError("dict_type", "Input should be an object") from None
        schemas = [pair[HALVES.index(half)] for pair in SETTINGS.values()]
        taker = next((s for s in schemas if set(value) <= set(s.model_fields)), None)
        if taker is not None:
            # It fails as the union did: the first kind that takes every key says how.
            return taker.model_validate(value)
        problems = _no_kind_takes(half, value)
        raise PydanticCustomError("settings_keys", "{problems}", {"problems": problems})

    return WrapValidator(validate)


def _no_kind_takes(half: Half, data: dict) -> str:
    other = HALVES[1 - HALVES.index(half)]
    problems = []
    for key in sorted(set(data) - _every_key(half), key=str):
        if key in _every_key(other):
            problems.append(f"{key} is a {NOUNS[other]}: put it in {other}, not {half}")
        else:
            problems.append(f"{key} is not a {NOUNS[half]} of any kind of channel")
    together = ", ".join(sorted(map(str, data)))
    return "; ".join(problems) or f"no kind of channel takes all of {together}"


if TYPE_CHECKING:
    AnyConfig = KindSettings
    AnySecrets = KindSettings
else:
    AnyConfig = Annotated[reduce(or_, [c for c, _ in SETTINGS.values()]), _any_kind("config")]
    AnySecrets = Annotated[reduce(or_, [s for _, s in SETTINGS.values()]), _any_kind("secrets")]


# -- channels -------------------------------------------------------------------------------
class ChannelOut(StoredColumns, ModelSchema):
    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "kind",
            "min_severity",
            "enabled",
            "send_resolved",
            "rate_limit_per_minute",
            "consecutive_failures",
            "circuit_open_until",
            "created",
            "updated",
        ]

    config: dict[str, Any] = Field(..., description="the kind's settings, as in its *Config")
    secrets_set: list[str] = Field(..., description="names of the secrets stored")

    @staticmethod
    def resolve_secrets_set(obj: NotificationChannel) -> list[str]:
        return secret_names(obj)


# A kind's example body in the document, where one helps.
EXAMPLES: dict[str, dict[str, Any]] = {
    ChannelKind.SLACK: {
        "name": "ops-slack",
        "kind": "slack",
        "config": {"timeout": 5},
        "secrets": {"webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"},
        "min_severity": "warning",
    },
    ChannelKind.WEBHOOK: {
        "name": "ops-webhook",
        "kind": "webhook",
        "secrets": {
            "url": "https://hooks.example.com/alerts",
            "headers": {"Authorization": "Bearer ..."},
        },
    },
}


def _example(schema: JsonDict, cls: type) -> None:
    if example := EXAMPLES.get(getattr(cls, "KIND", "")):
        schema["examples"] = [example]


class KindChannelIn(Schema):
    """A new channel of one kind: what every channel has, with its kind's settings."""

    model_config = ConfigDict(json_schema_extra=_example)
    KIND: ClassVar[str] = ""
    name: str = Field(..., min_length=1, max_length=100)
    min_severity: str | None = Field(None, description="blank: info (critical for sms)")
    enabled: bool = True
    send_resolved: bool = True
    rate_limit_per_minute: int | None = Field(None, ge=0)
    kind: str
    config: KindSettings
    secrets: KindSettings


def _channel_in(kind: str) -> type[KindChannelIn]:
    config, secrets = SETTINGS[kind]
    body = create_model(
        f"{NAMES[kind]}ChannelIn",
        __base__=KindChannelIn,
        __module__=__name__,
        __doc__=f"A new {kind} channel.",
        kind=(cast(Any, Literal)[kind], ...),
        config=(config, Field(default_factory=config)),
        secrets=(secrets, Field(default_factory=secrets)),
    )
    body.KIND = kind
    return body


CHANNEL_BODIES = [_channel_in(kind) for kind in ChannelKind.values]
if TYPE_CHECKING:
    ChannelIn = KindChannelIn
else:
    ChannelIn = Annotated[reduce(or_, CHANNEL_BODIES), Field(discriminator="kind")]


def channel_fields(payload: KindChannelIn) -> dict[str, Any]:
    """A create body as save_channel takes it: the kind's settings as sent."""
    fields = payload.model_dump(exclude={"config", "secrets"})
    fields["config"] = settings_dump(payload.config)
    fields["secrets"] = settings_dump(payload.secrets)
    return fields


class ChannelPatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": False}, {"secrets": {"webhook_url": None}}]},
    )
    name: str | None = Field(None, min_length=1, max_length=100)
    config: AnyConfig | None = Field(
        None, description="replaced whole: the keys of the channel's kind (its *Config)"
    )
    secrets: AnySecrets | None = Field(
        None,
        description="merged, headers one by one; null or '' removes one: the keys of the "
        "channel's kind (its *Secrets)",
    )
    min_severity: str | None = None
    enabled: bool | None = None
    send_resolved: bool | None = None
    rate_limit_per_minute: int | None = Field(None, ge=0)

    def changes(self, kind: str) -> dict[str, Any]:
        """The fields named, as save_channel takes them, with the settings as a channel
        of ``kind`` reads them; ChannelError (one line per problem) when it does not."""
        named = self.model_dump(exclude_unset=True, exclude={"config", "secrets"})
        # Absent or null: unchanged; except the rate limit, where null means the default.
        fields = {k: v for k, v in named.items() if v is not None or k == "rate_limit_per_minute"}
        problems = []
        schemas = SETTINGS.get(kind, ())  # an unknown kind: save_channel says so
        for schema, settings in zip(schemas, (self.config, self.secrets), strict=False):
            if settings is None:
                continue
            try:
                fields[schema.HALF] = settings_dump(schema.model_validate(settings_dump(settings)))
            except ValidationError as exc:
                problems.extend(_lines(schema.HALF, exc))
        if problems:
            raise ChannelError(problems)
        return fields


# -- routing rules --------------------------------------------------------------------------
class RoutingRuleOut(StoredColumns, ModelSchema):
    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "name",
            "position",
            "enabled",
            "all_channels",
            "group_wait",
            "group_interval",
            "repeat_interval",
        ]

    severities: list[str]
    categories: list[str]
    label_matchers: dict[str, str]
    channel_kinds: list[str]
    channels: list[int] = Field(..., description="channel ids")
    group_by: list[str]

    @staticmethod
    def resolve_channels(obj: RoutingRule) -> list[int]:
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


# -- the delivery log -----------------------------------------------------------------------
class NotificationOut(StoredColumns, ModelSchema):
    class Meta:
        model = Notification
        fields = [
            "id",
            "transition",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "response_code",
            "idempotency_key",
            "created",
            "sent_at",
        ]

    alert_id: int | None
    channel_id: int
    channel: str = Field(..., description="the channel's name")

    @staticmethod
    def resolve_channel(obj: Notification) -> str:
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
