"""Settings for the test suite: opsconsole.settings read with OPSCONSOLE_TESTING set.

pytest-django loads settings before any conftest runs, so the switch is made here:
tasks run inline, the in-process channel layer and cache are used unless REDIS_URL
is set, passwords hash fast, messages are sent on commit by the process that made
the change (no delivery lane runs), and files go to var/test/.
"""

import os

os.environ["OPSCONSOLE_TESTING"] = "true"
os.environ.setdefault(
    "OPSCONSOLE_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)

from opsconsole.settings import *  # noqa: F403

NOTIFY_INLINE = True
# Each test's silences and routing are its own: rolled-back rows send no signal to drop
# a copy.
CONFIG_CACHE_SECONDS = 0
