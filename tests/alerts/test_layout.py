"""Alerts come before notifications in the data's order: the alerts app hands changes
over through a signal and never imports the notifications app, not even in a function."""

from __future__ import annotations

import ast
from pathlib import Path

import alerts


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_alerts_app_never_imports_notifications():
    package = Path(alerts.__file__).parent
    offenders = {
        str(path.relative_to(package.parent)): sorted(
            name for name in _imports(path) if name.split(".")[0] == "notifications"
        )
        for path in package.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    # The check reads real files: the pipeline, which hands changes over, is among them.
    assert "alerts/pipeline.py" in offenders
