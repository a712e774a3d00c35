from django.dispatch import Signal

# Sent after commit when an alert opens (a new row). Keyword arguments: alert.
alert_fired = Signal()
# Sent after commit on every other change: a repeat, an escalation, acknowledge,
# resolve, suppress, expire. Keyword arguments: alert, event (the AlertEvent).
alert_changed = Signal()
# Sent inside the alert's transaction for every timeline entry the pipeline writes
# (fired, escalated, resolved, suppressed, ...), so a receiver's writes (the
# notifications outbox) commit or roll back with the change. Keyword arguments: alert,
# event. A receiver that raises rolls the change back: keep receivers to writes that
# belong with it.
alert_transition = Signal()
