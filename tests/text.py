"""Reading what a page, a command or a message says."""

from __future__ import annotations

import re


def captured(pattern: str, text: str, number: int = 1) -> str:
    """The pattern's group in the text; the test fails, showing the text, without it."""
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in {text!r}"
    return found.group(number)
