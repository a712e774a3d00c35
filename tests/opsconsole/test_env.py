from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from opsconsole import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("0", False), ("Yes", True), ("", False)]
)
def test_it_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env.envbool("X_FLAG", not expected) is expected


def test_it_refuses_a_malformed_boolean(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env.envbool("X_FLAG", False)


def test_it_refuses_numbers_out_of_range(monkeypatch):
    monkeypatch.setenv("X_INT", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env.envint("X_INT", 15, minimum=5)
    monkeypatch.setenv("X_FLOAT", "nan")
    with pytest.raises(ImproperlyConfigured, match="finite"):
        env.envfloat("X_FLOAT", 1.0)
    monkeypatch.setenv("X_FLOAT", "eighty")
    with pytest.raises(ImproperlyConfigured, match="not a number"):
        env.envfloat("X_FLOAT", 1.0)


def test_it_reads_secrets_from_files(monkeypatch, tmp_path):
    secret = tmp_path / "dsn"
    secret.write_text("https://key@sentry.example/1\n")
    monkeypatch.setenv("X_DSN_FILE", str(secret))
    assert env.envsecret("X_DSN") == "https://key@sentry.example/1"
    monkeypatch.setenv("X_DSN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.envsecret("X_DSN")


def test_it_reads_templates_from_a_json_object(monkeypatch):
    monkeypatch.setenv("X_QUERIES", '{"load_1m": "node_load1{instance=\\"{host}:9100\\"}"}')
    assert env.envtemplates("X_QUERIES", "{host}") == {
        "load_1m": 'node_load1{instance="{host}:9100"}'
    }
    monkeypatch.setenv("X_QUERIES", '{"load_1m": "node_load1{instance=~\\"{host_regex}\\"}"}')
    # Any one of the placeholders will do.
    assert env.envtemplates("X_QUERIES", "{host}", "{host_regex}") == {
        "load_1m": 'node_load1{instance=~"{host_regex}"}'
    }
    monkeypatch.delenv("X_QUERIES")
    assert env.envtemplates("X_QUERIES", "{host}") == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", r"X_QUERIES is not valid JSON: Expecting property name"),
        ('["up"]', r"X_QUERIES must be a JSON object of key -> template string"),
        ('{"load_1m": 5}', r"X_QUERIES\['load_1m'\] must be a non-empty string"),
        (
            '{"load_1m": "node_load1"}',
            r"X_QUERIES\['load_1m'\] has no \{host\} or \{host_regex\} placeholder",
        ),
    ],
)
def test_it_refuses_malformed_templates_in_one_line(monkeypatch, raw, message):
    monkeypatch.setenv("X_QUERIES", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        env.envtemplates("X_QUERIES", "{host}", "{host_regex}")


def test_it_parses_database_urls(tmp_path):
    pg = env.database_from_url(
        "postgres://ops:s%40cret@db.internal:6432/console?sslmode=require", base_dir=tmp_path
    )
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "console",
        "ops",
        "s@cret",
        "db.internal",
        "6432",
    )
    # Prepared statements on by default (Django's None disables even explicit ones).
    assert pg["OPTIONS"] == {"sslmode": "require", "prepare_threshold": 5}
    lite = env.database_from_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)
    assert lite["NAME"] == str(tmp_path / "var" / "x.sqlite3")
    assert lite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in lite["OPTIONS"]["init_command"]
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        env.database_from_url("mysql://root@localhost/x", base_dir=tmp_path)


def test_it_reads_the_prepare_threshold_of_a_database_url(tmp_path):
    def threshold(query):
        url = f"postgres://ops@db/console?{query}"
        return env.database_from_url(url, base_dir=tmp_path)["OPTIONS"]["prepare_threshold"]

    assert threshold("prepare_threshold=none") is None
    assert threshold("prepare_threshold=0") == 0
    with pytest.raises(ImproperlyConfigured, match="prepare_threshold='often' is neither"):
        threshold("prepare_threshold=often")


def test_it_reads_a_dotenv_file_without_overriding(monkeypatch, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nexport X_A="one"\nX_B=two\n')
    monkeypatch.setenv("X_B", "from-env")
    monkeypatch.delenv("X_A", raising=False)
    env.load_dotenv(dotenv)
    assert os.environ["X_A"] == "one"
    assert os.environ["X_B"] == "from-env"
    dotenv.write_text("not a pair\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env:1: expected KEY=VALUE"):
        env.load_dotenv(dotenv)


def test_it_reports_a_bad_setting_in_one_line(tmp_path):
    child_env = {k: v for k, v in os.environ.items() if k != "OPSCONSOLE_TESTING"}
    child_env.update(OPSCONSOLE_VAR_DIR=str(tmp_path), CPU_ALERT_THRESHOLD="eighty")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "opsconsole: configuration error: CPU_ALERT_THRESHOLD='eighty' is not a number"
    )
