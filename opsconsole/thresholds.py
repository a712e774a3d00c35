"""Default thresholds: the environment's values (CPU_ALERT_THRESHOLD...), unless changed
through configuration as code, which stores its values in ``ThresholdSetting``.

The gauges and the "critical load" status read ``current()`` on every vitals summary,
so it is cached; a change through ``import_config`` clears the cache at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache

from opsconsole.configcode import Change, ConfigError, LineDict
from opsconsole.models import ThresholdSetting

# name in files -> the setting that gives its default
SETTINGS = {
    "cpu": "CPU_ALERT_THRESHOLD",
    "memory": "MEMORY_ALERT_THRESHOLD",
    "disk": "DISK_ALERT_THRESHOLD",
    "response_time_ms": "RESPONSE_TIME_ALERT_THRESHOLD",
}
CACHE_KEY = "thresholds:current"
CACHE_SECONDS = 60


def current() -> dict[str, float]:
    found = cache.get(CACHE_KEY)
    if found is None:
        found = {name: float(getattr(settings, setting)) for name, setting in SETTINGS.items()}
        found.update(dict(ThresholdSetting.objects.values_list("name", "value")))
        cache.set(CACHE_KEY, found, CACHE_SECONDS)
    return found


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class ThresholdsSection:
    name = "thresholds"

    def export(self) -> dict[str, float | int]:
        return {name: _plain(value) for name, value in current().items()}

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        if not isinstance(value, LineDict):
            errors.append(
                ConfigError(getattr(value, "line", 0), "thresholds must be a mapping of numbers")
            )
            return []
        now = current()
        changes = []
        for name, wanted in value.items():
            line = value.line_of(name)
            if name not in SETTINGS:
                errors.append(
                    ConfigError(line, f"unknown threshold {name!r} (known: {', '.join(SETTINGS)})")
                )
                continue
            if isinstance(wanted, bool) or not isinstance(wanted, int | float) or wanted < 0:
                errors.append(ConfigError(line, f"threshold {name} must be a number >= 0"))
                continue
            if float(wanted) != now[name]:
                changes.append(
                    Change(
                        self.name,
                        "update",
                        name,
                        {"value": (_plain(now[name]), _plain(wanted))},
                        apply=_setter(name, float(wanted)),
                    )
                )
        return changes


def _setter(name: str, value: float):
    def apply(actor: str) -> None:
        ThresholdSetting.objects.update_or_create(
            name=name, defaults={"value": value, "updated_by": actor[:150]}
        )
        cache.delete(CACHE_KEY)

    return apply
