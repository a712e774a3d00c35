"""What an operator sees when the console cannot start: one readable line naming the
problem and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again once the block ends: nothing listens


def _manage(tmp_path, env_changes: dict, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
    }
    env["OPSCONSOLE_VAR_DIR"] = str(tmp_path / "var")
    env["SECRET_KEY"] = "start-errors-key"
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD'"),
        ("Q_LOG_LEVEL", "chatty", "Q_LOG_LEVEL='chatty'"),
        ("TIME_ZONE", "Mars/Base", "TIME_ZONE='Mars/Base' is not a time zone"),
    ],
)
def test_a_bad_setting_is_one_line(tmp_path, name, value, message):
    assert message in _one_line(_manage(tmp_path, {name: value}, "check"))


def test_a_var_dir_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = _one_line(_manage(tmp_path, {"OPSCONSOLE_VAR_DIR": str(blocker / "var")}, "check"))
    assert "OPSCONSOLE_VAR_DIR" in line and "cannot be used" in line


def test_a_var_dir_that_cannot_be_written_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    line = _one_line(_manage(tmp_path, {"OPSCONSOLE_VAR_DIR": str(locked / "var")}, "check"))
    assert "OPSCONSOLE_VAR_DIR" in line


def test_a_postgresql_that_is_down_is_one_line(tmp_path):
    url = f"postgres://postgres@127.0.0.1:{_closed_port()}/opsconsole"
    line = _one_line(_manage(tmp_path, {"DATABASE_URL": url}, "setup_console"))
    assert "cannot reach the database" in line and "Connection refused" in line


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_one_line(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    missing = url.rsplit("/", 1)[0] + "/no_such_database_h14"
    line = _one_line(_manage(tmp_path, {"DATABASE_URL": missing}, "setup_console"))
    assert "cannot reach the database" in line and "does not exist" in line


def test_an_unreachable_redis_is_refused_at_start(tmp_path):
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    result = _manage(
        tmp_path, {"REDIS_URL": url}, "serve", "--skip-setup", "--port", str(_closed_port())
    )
    line = _one_line(result)
    assert "REDIS_URL" in line and "does not answer" in line


@pytest.mark.parametrize("value", ['{"web": ', "[1, 2", '["web"]'])
def test_bad_json_in_service_endpoints_says_it_is_bad_json(tmp_path, value):
    line = _one_line(_manage(tmp_path, {"SERVICE_ENDPOINTS": value}, "setup_console"))
    assert "SERVICE_ENDPOINTS" in line and "JSON" in line
