"""A served console (``manage.py serve``) as an operator sees it in ``ps``, and how it
ends when its terminal closes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _title(process: psutil.Process) -> str:
    return " ".join(process.cmdline()).strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A console serving on a free loopback port; the supervisor's process, with its
    web, worker and notify children up."""
    var = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        OPSCONSOLE_VAR_DIR=str(var),
        HOST="127.0.0.1",
        PORT=str(port),
        OPSCONSOLE_ADMIN_PASSWORD="served-admin-password",
    )
    log = open(var / "serve.log", "w")  # noqa: SIM115
    serve = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    supervisor = psutil.Process(serve.pid)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert serve.poll() is None, (var / "serve.log").read_text()
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                up = False
            # q2's pool is up once the worker has forked its own children.
            if up and len(supervisor.children(recursive=True)) > 3:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"the console did not come up: {(var / 'serve.log').read_text()}")
        yield serve, supervisor
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        for child in psutil.Process().children(recursive=True):
            if child.pid != serve.pid and "opsconsole" in _title(child):
                child.kill()
        log.close()


def test_every_process_is_named_in_ps(served):
    _, supervisor = served
    assert _title(supervisor) == "opsconsole: supervisor"
    titles = sorted(_title(child) for child in supervisor.children())
    assert titles == ["opsconsole: notify", "opsconsole: web", "opsconsole: worker"]


def test_a_hangup_stops_the_whole_console(served):
    serve, supervisor = served
    everyone = supervisor.children(recursive=True)
    assert len(everyone) > 3
    # The terminal closing: the hangup reaches the supervisor (its children have
    # sessions of their own and hear nothing).
    supervisor.send_signal(signal.SIGHUP)
    assert serve.wait(timeout=90) == 0
    left = []
    for process in everyone:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                left.append(_title(process))
        except psutil.NoSuchProcess:
            pass
    assert left == []
