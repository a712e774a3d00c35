"""Management commands: what an operator types, and the one-line errors they get."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.models import Host, MetricSample, ProcessSample
from opsconsole.models import ApiToken, hash_token

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_collect_metrics_once_stores_this_hosts_vitals_and_processes(settings):
    settings.LOCAL_HOSTNAME = "console-under-test"
    out, _ = _run("collect_metrics", "--once")
    assert "collected" in out and "console-under-test" in out
    host = Host.objects.get(hostname="console-under-test")
    assert host.is_local
    keys = set(MetricSample.objects.filter(host=host).values_list("metric__key", flat=True))
    assert {"cpu_usage_percent", "memory_usage_percent", "zombie_process_count"} <= keys
    assert {"collector_cpu_ms", "database_connect_ms"} <= keys
    assert ProcessSample.objects.filter(host=host).exists()


def test_collect_metrics_without_once_says_where_collection_runs():
    with pytest.raises(CommandError, match="--once"):
        _run("collect_metrics")


def test_create_api_token_prints_it_once_and_stores_only_its_hash(alice):
    out, err = _run("create_api_token", "--user", "alice", "--scopes", "read,ingest")
    raw = out.strip()
    token = ApiToken.objects.get(user=alice)
    assert token.token_hash == hash_token(raw)
    assert sorted(token.scopes) == ["ingest", "read"]
    assert "shown only this once" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody"], "no user named 'nobody'"),
        (["--user", "alice", "--scopes", "read,root"], "root"),
    ],
)
def test_create_api_token_refuses_bad_input_in_one_line(alice, args, message):
    with pytest.raises(CommandError, match=message):
        _run("create_api_token", *args)
    assert not ApiToken.objects.exists()


def test_setup_console_creates_roles_and_an_admin_with_a_printed_password(monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_ADMIN_PASSWORD", raising=False)
    out, _ = _run("setup_console")
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Viewers",
        "Responders",
        "Admins",
    }
    admin = User.objects.get(username="admin")
    password = out.split("admin / ", 1)[1].split()[0]
    assert admin.is_superuser and admin.check_password(password)
    # Run again: nothing new, and the password is not shown a second time.
    again, _ = _run("setup_console")
    assert "admin / " not in again


def test_setup_console_takes_the_admin_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_ADMIN_PASSWORD", "chosen-by-the-operator")
    out, _ = _run("setup_console")
    assert "chosen-by-the-operator" not in out and "admin / " not in out
    assert User.objects.get(username="admin").check_password("chosen-by-the-operator")


def test_serve_refuses_a_busy_port_with_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            _run("serve", "--host", "127.0.0.1", "--port", str(port), "--skip-setup")


def test_serve_refuses_roles_mixed_with_the_old_switches():
    with pytest.raises(CommandError, match="--role names the parts itself"):
        _run("serve", "--role", "web", "--no-workers")


def test_serve_with_a_role_that_has_no_web_part_never_binds_nor_migrates(monkeypatch, tmp_path):
    """A worker machine takes no port (a web on the same machine may hold it) and runs no
    migrations (setup_console runs once, elsewhere): it goes straight to the supervisor
    with its roles."""
    import opsconsole.management.commands.serve as serve

    started: dict[str, Any] = {}
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: started.update(argv=argv))
    monkeypatch.setattr(serve.os, "chdir", lambda path: None)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setattr(serve, "call_command", lambda *a, **k: started.update(setup=a))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _run(
            "serve", "--role", "worker", "--role", "ticker", "--role", "worker", "--port", str(port)
        )
    assert "setup" not in started
    argv = started["argv"]
    assert argv[argv.index("--roles") + 1] == "worker,ticker"


def test_the_supervisor_forks_one_child_per_role():
    from opsconsole.supervisor import children

    class Args:
        roles = "web,ticker,notify"
        no_workers = no_ticker = False

    made = children(Args())
    assert [child.name for child in made] == ["web", "ticker", "notify"]
    # The ticker runs as its own child, not as a thread of the web process.
    assert made[0].env == {"OPSCONSOLE_TICKER_THREAD": "0"}
    Args.roles = ""
    assert [child.name for child in children(Args())] == ["web", "worker", "notify"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "PORT"),
        ("METRICS_COLLECTION_INTERVAL", "2", "METRICS_COLLECTION_INTERVAL"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("Q_BROKER", "rabbit", "Q_BROKER"),
    ],
)
def test_a_malformed_setting_stops_manage_py_with_one_readable_line(tmp_path, name, value, message):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    env.update({name: value, "OPSCONSOLE_VAR_DIR": str(tmp_path)})
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_fresh_console_gets_the_environments_thresholds_as_rules(settings, monkeypatch):
    from alerts.models import AlertRule

    settings.CPU_ALERT_THRESHOLD = 75.0
    monkeypatch.setenv("OPSCONSOLE_ADMIN_PASSWORD", "x-long-enough-password")
    _run("setup_console")
    rules = {r.name: r for r in AlertRule.objects.all()}
    assert set(rules) == {
        "High CPU usage",
        "High memory usage",
        "Disk almost full",
        "Slow responses",
    }
    assert (
        rules["High CPU usage"].threshold == 75.0 and rules["High CPU usage"].clear_threshold == 65
    )
    assert (
        rules["Disk almost full"].severity == "error" and rules["Disk almost full"].for_seconds == 0
    )
    # Deleted by an operator on a console with history: not recreated on the next start.
    AlertRule.objects.all().delete()
    from alerts.service import AlertService

    AlertService().create_system_alert("cpu_percent", 95, 80, "web-01")
    _run("setup_console")
    assert not AlertRule.objects.exists()


def test_workers_stop_their_whole_pool_on_sigterm(tmp_path):
    import signal
    import time

    import psutil

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
    }
    env["OPSCONSOLE_VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, timeout=120)
    workers = subprocess.Popen([*manage, "workers"], env=env)
    try:
        sentinel = psutil.Process(workers.pid)
        deadline = time.monotonic() + 60
        # A worker, the monitor and the pusher.
        while len(sentinel.children()) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        pool = sentinel.children()
        assert len(pool) == 3
        workers.send_signal(signal.SIGTERM)
        # Stopped by the sentinel itself, not killed: exit code 0 and no child left.
        assert workers.wait(timeout=60) == 0
        assert not [p for p in pool if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if workers.poll() is None:
            workers.kill()
