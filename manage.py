#!/usr/bin/env python
"""Django's command-line utility for OpsConsole."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsconsole.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    from opsconsole.connections import unreachable_reason

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A misconfigured environment: one readable line, not a traceback.
        sys.stderr.write(f"opsconsole: configuration error: {exc}\n")
        sys.exit(2)
    except OperationalError as exc:
        # The database server is down, refuses us, or has no such database: the
        # driver's own words (several lines from libpq) joined into one.
        reason = " ".join(str(unreachable_reason(exc)).split())
        sys.stderr.write(f"opsconsole: cannot reach the database (DATABASE_URL): {reason}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
