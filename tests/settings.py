"""Settings for the test suite: the production settings with what a test run changes.

pytest-django loads settings before any conftest runs, so the changes are made here:
tasks run inline, the in-process channel layer and cache are used unless REDIS_URL
is set, passwords hash fast, messages are sent on commit by the process that made
the change (no delivery lane runs), and files go to var/test/. The production settings
know nothing of tests.
"""

import os

# Marks this process as the test run for child processes that must not inherit it
# (they drop it with DJANGO_SETTINGS_MODULE); the settings themselves do not read it.
os.environ["OPSCONSOLE_TESTING"] = "true"
os.environ.setdefault(
    "OPSCONSOLE_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)

from opsconsole.settings import *  # noqa: F403
from opsconsole.settings import CACHE_MAX_ENTRIES, DATABASES, Q_CLUSTER, REDIS_URL

if not REDIS_URL:
    # Unit tests run in one process; the cross-process embedded layer (a second SQLite
    # file) is exercised by the browser tests, which run the real console.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    DATABASES.pop("channels", None)
    DATABASE_ROUTERS = []
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES},
        }
    }
# django-q2 reads Q_CLUSTER once, at import: override_settings could not change it.
Q_CLUSTER["sync"] = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A test database on PostgreSQL runs with a generated key on purpose.
SILENCED_SYSTEM_CHECKS = ["opsconsole.W001"]

NOTIFY_INLINE = True
# Each test's silences and routing are its own: rolled-back rows send no signal to drop
# a copy.
CONFIG_CACHE_SECONDS = 0
# Ingest announces each batch at once, after its request's commit, so a test sees the
# latest values and the evaluator's wake-up of its own batch.
INGEST_ANNOUNCE_SECONDS = 0.0
