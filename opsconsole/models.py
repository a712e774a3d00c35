from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    READ = "read", "read"
    WRITE = "write", "write"
    INGEST = "ingest", "ingest"


TOKEN_PREFIX = "opc_"  # noqa: S105 (a marker, not a secret)


def hash_token(raw: str) -> str:
    # Tokens are 32 random bytes: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A machine credential. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'agent on db-01'.")
    prefix = models.CharField(max_length=12, editable=False, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Any of read, write, ingest.")
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, user, name: str, scopes: list[str], expires_at=None) -> tuple[ApiToken, str]:
        """Create a token and return it with its one-time plain text."""
        valid = set(Scope.values)
        unknown = [scope for scope in scopes if scope not in valid]
        if unknown or not scopes:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown) or '(none given)'}; use read, write, ingest"
            )
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=raw[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(raw),
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        return token, raw

    @property
    def is_usable(self) -> bool:
        if self.revoked or not self.user.is_active:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class SchedulerLease(models.Model):
    """Which ticker process may enqueue the periodic jobs (one across all machines)."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    heartbeat = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder}"


class AuditEntry(models.Model):
    """One thing worth knowing who did: a login, an alert action, a configuration edit,
    an application error. Shown live on Sentry Station and served by the audit API."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Login"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGIN_LOCKED = "login_locked", "Login locked out"
        LOGIN_UNLOCKED = "login_unlocked", "Login unlocked"
        LOGOUT = "logout", "Logout"
        ALERT_ACTION = "alert_action", "Alert action"
        CONFIG_CHANGE = "config_change", "Configuration change"
        APP_ERROR = "app_error", "Application error"
        DELIVERY_FAILED = "delivery_failed", "Notification not delivered"

    created = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.CharField(max_length=150, blank=True, help_text="Who, or blank: the system.")
    summary = models.CharField(max_length=300)
    object_type = models.CharField(max_length=60, blank=True, help_text="e.g. alerts.alertrule")
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            # Sentry Station and the audit API filtered by kind, newest first, paged by id.
            models.Index(fields=["kind", "-id"], name="audit_kind_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


class ConfigVersion(models.Model):
    """One saved state of a versioned configuration item (an alert rule, a routing rule):
    who changed it, when, from where, and what changed since the version before."""

    section = models.CharField(max_length=40, help_text="Configuration section, e.g. rules.")
    object_key = models.CharField(max_length=64, help_text="The item's id in its section.")
    object_name = models.CharField(max_length=255)
    number = models.PositiveIntegerField(help_text="1 for the first version of the item.")
    # The item's fields as written in configuration files; null: the item was deleted.
    snapshot = models.JSONField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    actor = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=20, help_text="admin, api, import or rollback.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["section", "object_key", "number"], name="one_config_version_number"
            )
        ]
        # The constraint's index also serves "latest version of item X" (ORDER BY number
        # DESC within section and key) and the admin's history of one item.
        verbose_name = "configuration version"

    def __str__(self) -> str:
        return f"{self.object_name} v{self.number}"


class ThresholdSetting(models.Model):
    """A default threshold changed from its environment value (CPU_ALERT_THRESHOLD...) by
    configuration as code; absent rows fall back to the environment."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.FloatField()
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"{self.name} = {self.value:g}"
