from django.dispatch import Signal

# Sent after commit when an alert opens (a new row). Keyword arguments: alert.
alert_fired = Signal()
# Sent after commit on every other change: a repeat, an escalation, acknowledge,
# resolve, suppress, expire. Keyword arguments: alert, event (the AlertEvent).
alert_changed = Signal()
