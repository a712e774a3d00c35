"""``make run`` installs what the console needs to run, visibly; ``make test`` the dev set.

Run in a copy of the Makefile whose virtualenv's python only records what it is asked
to do (and runs the Makefile's own one-line scripts), so nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{tmp_path}/calls.log"\n'
        f'if [ "$1" = "-c" ]; then exec "{sys.executable}" "$@"; fi\n'
        "exit 0\n"
    )
    fake.chmod(0o755)
    return tmp_path


def _make(project: Path, target: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(
        ["make", "-s", target], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _installs(project: Path) -> list[str]:
    log = (project / "calls.log").read_text().splitlines()
    return [line for line in log if line.startswith("-m pip install")]


def _requirements(project: Path, line: str) -> str:
    return (project / line.split("-r ", 1)[1].split()[0]).read_text()


def test_make_run_installs_only_the_runtime_set_and_shows_it(project):
    out = _make(project, "run")
    [install] = _installs(project)
    assert "--quiet" not in install
    wanted = _requirements(project, install)
    assert "Django==" in wanted and "daphne==" in wanted
    assert "playwright" not in wanted and "pytest" not in wanted
    assert "Installing" in out


def test_make_test_after_make_run_installs_the_dev_set(project):
    _make(project, "run")
    _make(project, "test")
    installs = _installs(project)
    assert len(installs) == 2
    assert "playwright==" in _requirements(project, installs[1])
    # Both sets are in place now: neither target installs again.
    _make(project, "run")
    _make(project, "test")
    assert len(_installs(project)) == 2


def test_a_changed_pyproject_installs_again(project):
    _make(project, "run")
    with open(project / "pyproject.toml", "a") as f:
        f.write("\n# changed\n")
    _make(project, "run")
    assert len(_installs(project)) == 2
