"""Small settings helpers that read the environment and fail loudly.

Every helper raises ``ImproperlyConfigured`` with one readable sentence naming the
variable and the value it could not use; ``manage.py`` turns that into a single line
on stderr and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from ``path`` into os.environ without overriding real env."""
    if not path.is_file():
        return
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key.strip(), value)


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envsecret(name: str, default: str = "") -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}"
            ) from None
    return os.environ.get(name, default)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def envloglevel(name: str, default: str) -> str:
    """A logging level name; anything else would fail deep inside logging's setup."""
    value = os.environ.get(name)
    if value is None:
        return default
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a log level (one of: {', '.join(LOG_LEVELS)})"
        )
    return level


def envtimezone(name: str, default: str) -> str:
    """An IANA time zone name such as Europe/Paris, checked against the zone database."""
    import zoneinfo

    value = os.environ.get(name)
    if value is None:
        return default
    try:
        zoneinfo.ZoneInfo(value.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a time zone (an IANA name such as UTC or Europe/Paris)"
        ) from None
    return value.strip()


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def envfloat(name: str, default: float, *, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envtemplates(name: str, *placeholders: str) -> dict[str, str]:
    """A JSON object of key -> template string, each template holding a ``placeholder``.

    A template without the placeholder would read the same thing for every subject,
    which is a mistake more often than a wish, so it is refused here.
    """
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object of key -> template string")
    for key, template in parsed.items():
        if not isinstance(template, str) or not template.strip():
            raise ImproperlyConfigured(f"{name}[{key!r}] must be a non-empty string")
        if not any(placeholder in template for placeholder in placeholders):
            raise ImproperlyConfigured(
                f"{name}[{key!r}] has no {' or '.join(placeholders)} placeholder"
            )
    return parsed


def database_from_url(url: str, *, base_dir: Path, name: str = "DATABASE_URL") -> dict:
    """Turn ``sqlite:///path`` or ``postgres://user:pass@host:port/db`` into DATABASES."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ImproperlyConfigured(f"{name}={url!r} names no SQLite file")
        file_path = Path(path)
        if not file_path.is_absolute():
            file_path = base_dir / file_path
        return sqlite_database(file_path)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ImproperlyConfigured(f"{name}={url!r} names no database")
        options: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        # Django opens psycopg connections with prepare_threshold=None, which disables
        # prepared statements even where a cursor asks for one. Django's own cursors
        # bind client-side and are never prepared whatever this says, so it reaches
        # only the project's server-side cursors (opsconsole.prepared): the alert
        # storm's repeat counter is then planned once per connection, not on every
        # firing (0.85 -> 0.25 ms).
        # `?prepare_threshold=none` turns it off, e.g. behind a pooler in transaction
        # mode that cannot keep prepared statements.
        threshold = options.get("prepare_threshold", "5")
        if threshold.lower() == "none":
            options["prepare_threshold"] = None
        elif threshold.isdigit():
            options["prepare_threshold"] = int(threshold)
        else:
            raise ImproperlyConfigured(
                f"{name}: prepare_threshold={threshold!r} is neither a number nor 'none'"
            )
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}={url!r} has a port that is not a number") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            # Not persistent: under daphne a request's thread ends with the request,
            # and a connection kept in it waits for the garbage collector (see
            # opsconsole.connections). The settings add a pool instead.
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name}={url!r} is not supported (use sqlite:///path or postgres://user@host/db)"
    )


def sqlite_database(path: Path) -> dict:
    """SQLite tuned so the web process and the workers never see "database is locked".

    WAL lets readers run beside one writer; IMMEDIATE transactions take the write lock
    at BEGIN, so two writers queue on the busy timeout instead of failing on upgrade.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
            ),
        },
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }
