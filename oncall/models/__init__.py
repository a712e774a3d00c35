"""People's contact methods and notification rules, on-call schedules (rotations in
layers, overrides), escalation policies and the escalations running under them."""

from oncall.models.escalation import (
    Escalation,
    EscalationPolicy,
    EscalationStatus,
    EscalationStep,
    StepAction,
    StepTaken,
)
from oncall.models.inbound import SlackRequestSeen
from oncall.models.people import (
    CHANNEL_KIND,
    ContactKind,
    ContactMethod,
    NotificationRule,
    Urgency,
)
from oncall.models.schedules import (
    Override,
    PersonalFeed,
    Rotation,
    RotationMember,
    Schedule,
    ShiftLength,
)

__all__ = [
    "CHANNEL_KIND",
    "ContactKind",
    "ContactMethod",
    "Escalation",
    "EscalationPolicy",
    "EscalationStatus",
    "EscalationStep",
    "NotificationRule",
    "Override",
    "PersonalFeed",
    "Rotation",
    "RotationMember",
    "Schedule",
    "ShiftLength",
    "SlackRequestSeen",
    "StepAction",
    "StepTaken",
    "Urgency",
]
