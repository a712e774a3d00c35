"""The apps import one way (pyproject.toml's import-linter contracts): `make test` fails
on an import that breaks the order, a circle, or a reach into another app's pages."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_it_keeps_every_import_contract():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_app_of_the_project_is_in_the_order():
    ours = {c.name for c in apps.get_app_configs() if Path(c.path).parent == ROOT}
    config = _config()
    assert set(config["root_packages"]) == ours
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    assert placed == ours
