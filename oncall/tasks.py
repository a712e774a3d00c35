"""q2 tasks of the on-call app."""

from __future__ import annotations


def escalate() -> int:
    """Take every escalation step that is due (enqueued by the ticker)."""
    from oncall.escalation import tick

    return tick()
