"""Settings every machine of a scaled-out console must share: one SECRET_KEY (from the
environment or a file; a key generated per machine is warned of once the database is
shared), and
`make setup` (setup_console) migrating the database DATABASE_URL names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_KEY = (
    "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)


def _run(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    child = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "OPSCONSOLE_TESTING",
            "DJANGO_SETTINGS_MODULE",
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "SECRET_KEY_FILE",
        }
    }
    child.update(
        DJANGO_SETTINGS_MODULE="opsconsole.settings", OPSCONSOLE_VAR_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=child, capture_output=True, text=True, timeout=120
    )


def test_a_shared_database_without_a_shared_key_is_warned_of(tmp_path):
    # One machine on PostgreSQL (make run with DATABASE_URL) works with its own key; the
    # check says at every start that a second machine needs the same one.
    result = _run(tmp_path, "manage.py", "check", DATABASE_URL="postgres://ops@db/console")
    assert result.returncode == 0, result.stderr
    assert "opsconsole.W001" in result.stderr and "SECRET_KEY is not set" in result.stderr
    assert (tmp_path / "secret_key").exists()
    quiet = _run(
        tmp_path,
        "manage.py",
        "check",
        DATABASE_URL="postgres://ops@db/console",
        SECRET_KEY="k" * 50,
    )
    assert "opsconsole.W001" not in quiet.stderr


def test_every_machine_reads_the_same_key_from_its_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("one-key-for-the-fleet\n")
    keys = {
        _run(
            tmp_path / machine,
            "-c",
            PRINT_KEY,
            DATABASE_URL="postgres://ops@db/console",
            SECRET_KEY_FILE=str(key_file),
        ).stdout.strip()
        for machine in ("web-1", "web-2")
    }
    assert keys == {"one-key-for-the-fleet"}


def test_the_embedded_console_generates_its_key_once(tmp_path):
    first = _run(tmp_path, "-c", PRINT_KEY).stdout.strip()
    assert len(first) > 40
    assert _run(tmp_path, "-c", PRINT_KEY).stdout.strip() == first
    assert (tmp_path / "secret_key").read_text().strip() == first


@pytest.mark.postgres
def test_setup_migrates_the_database_database_url_names(tmp_path):
    from bench._common import pg_drop, pg_recreate

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    base, _, name = url.rpartition("/")
    database = f"{name}_setup"
    target = pg_recreate(database, f"{base}/postgres")
    try:
        result = _run(
            tmp_path,
            "manage.py",
            "setup_console",
            DATABASE_URL=target,
            SECRET_KEY="setup-test-key",
            OPSCONSOLE_ADMIN_PASSWORD="setup-test-password",
        )
        assert result.returncode == 0, result.stderr
        assert f"migrated PostgreSQL database '{database}'" in result.stdout
        import psycopg

        with psycopg.connect(target) as conn:
            [(applied,)] = conn.execute("SELECT count(*) FROM django_migrations").fetchall()
            [(admins,)] = conn.execute(
                "SELECT count(*) FROM auth_user WHERE is_superuser"
            ).fetchall()
        assert applied > 20 and admins == 1
        assert not (tmp_path / "opsconsole.sqlite3").exists()
    finally:
        pg_drop(database, f"{base}/postgres")
