"""Regular expressions that operators type (silence matchers today; any matcher or
filter that takes a pattern should come here), run on RE2.

A backtracking engine (Python's ``re``) takes time exponential in the input for
patterns such as ``(a|a)+$`` or ``((a+))+$`` on a near-miss, and a filter that tries to
spot such shapes cannot catch them all: one silence doubled every evaluation pass's time
per character of a resource name. RE2 matches in time linear in the input whatever the
pattern, at the price of backreferences and lookaround, which are refused at save with
a message saying so.
"""

from __future__ import annotations

import re
from functools import lru_cache

import re2

MAX_LENGTH = 200

_OPTIONS = re2.Options()
# RE2 writes parse errors to stderr itself; the caller gets them as the error instead.
_OPTIONS.log_errors = False
# A pattern's compiled program is kept in at most this much memory (RE2 refuses larger).
_OPTIONS.max_mem = 1 << 20


def _message(exc: re2.error) -> str:
    detail = exc.args[0] if exc.args else ""
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str):
    """The compiled pattern, kept per process; ValueError saying what is wrong."""
    if len(pattern) > MAX_LENGTH:
        raise ValueError(f"a pattern may be at most {MAX_LENGTH} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = _message(exc)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    # Valid for Python, but not for RE2: backreferences, lookahead or lookbehind, ...
    raise ValueError(
        f"not supported here ({reason}): patterns run on RE2, which matches in linear "
        "time and has no backreferences or lookaround"
    )


def check_pattern(pattern: str) -> str:
    """A pattern an operator may save; ValueError with the reason if not."""
    compile_pattern(pattern)
    return pattern


def fullmatch(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches the whole of ``text``; False for a pattern that no
    longer compiles (saved before this check existed), which then matches nothing."""
    try:
        compiled = compile_pattern(pattern)
    except ValueError:
        return False
    return compiled.fullmatch(text) is not None
