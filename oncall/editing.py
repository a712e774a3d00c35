"""Creating and changing schedules and escalation policies from plain data: the API
and configuration files share these, and so refuse the same things."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from oncall.models import Rotation, RotationMember, Schedule, ShiftLength
from oncall.models.people import validate_time_zone

ROTATION_FIELDS = ("name", "layer", "length", "shift_hours", "handoff_time", "start_date")


class EditError(ValueError):
    pass


def users_by_name(names) -> dict[str, Any]:
    """Active users by username; EditError naming any that do not exist."""
    names = [str(n) for n in names]
    found = {
        u.get_username(): u
        for u in get_user_model().objects.filter(username__in=names, is_active=True)
    }
    missing = [n for n in names if n not in found]
    if missing:
        raise EditError(f"no active user named {', '.join(sorted(set(missing)))}")
    return found


def _rotation(item: dict, index: int) -> dict:
    if not isinstance(item, dict):
        raise EditError(f"rotation {index + 1}: must be a mapping")
    unknown = set(item) - {*ROTATION_FIELDS, "participants"}
    if unknown:
        raise EditError(f"rotation {index + 1}: unknown field {sorted(unknown)[0]!r}")
    name = str(item.get("name") or f"Rotation {index + 1}")
    length = str(item.get("length") or ShiftLength.WEEKLY)
    if length not in ShiftLength.values:
        raise EditError(f"rotation {name!r}: length must be one of {', '.join(ShiftLength.values)}")
    try:
        layer = int(item.get("layer", 1))
        hours = int(item.get("shift_hours", 12))
        handoff = item.get("handoff_time", "09:00")
        if isinstance(handoff, int) and not isinstance(handoff, bool):
            # YAML 1.1 reads an unquoted 09:00 as sexagesimal minutes (540).
            handoff = time(handoff // 60, handoff % 60)
        handoff = handoff if isinstance(handoff, time) else time.fromisoformat(str(handoff))
        start = item.get("start_date")
        start = start if isinstance(start, date) else date.fromisoformat(str(start))
    except (TypeError, ValueError) as exc:
        raise EditError(f"rotation {name!r}: {exc}") from None
    if not 1 <= layer <= 99:
        raise EditError(f"rotation {name!r}: layer must be 1-99")
    if not 1 <= hours <= 24 * 28:
        raise EditError(f"rotation {name!r}: shift_hours must be 1-672")
    participants = item.get("participants") or []
    if not isinstance(participants, list):
        raise EditError(f"rotation {name!r}: participants must be a list of usernames")
    return {
        "name": name,
        "layer": layer,
        "length": length,
        "shift_hours": hours,
        "handoff_time": handoff,
        "start_date": start,
        "participants": [str(p) for p in participants],
    }


def check_schedule(data: dict) -> dict:
    """The schedule's fields and rotations, checked; EditError on the first problem."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise EditError("a schedule needs a name")
    zone = str(data.get("time_zone") or "UTC")
    try:
        validate_time_zone(zone)
    except ValidationError as exc:
        raise EditError(exc.messages[0]) from None
    rotations = data.get("rotations") or []
    if not isinstance(rotations, list):
        raise EditError("rotations must be a list")
    checked = [_rotation(item, i) for i, item in enumerate(rotations)]
    names = [r["name"] for r in checked]
    if len(set(names)) != len(names):
        raise EditError("two rotations have the same name")
    users_by_name({p for r in checked for p in r["participants"]})
    return {
        "name": name,
        "time_zone": zone,
        "description": str(data.get("description") or ""),
        "rotations": checked,
    }


@transaction.atomic
def save_schedule(data: dict, instance: Schedule | None = None) -> Schedule:
    """Create or replace a schedule with its rotations (overrides are kept)."""
    checked = check_schedule(data)
    users = users_by_name({p for r in checked["rotations"] for p in r["participants"]})
    schedule = instance or Schedule()
    schedule.name = checked["name"]
    schedule.time_zone = checked["time_zone"]
    schedule.description = checked["description"]
    schedule.save()
    schedule.rotations.all().delete()
    for item in checked["rotations"]:
        rotation = Rotation.objects.create(
            schedule=schedule, **{key: item[key] for key in ROTATION_FIELDS}
        )
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=users[name], position=position)
            for position, name in enumerate(item["participants"])
        )
    return schedule


def schedule_as_data(schedule: Schedule) -> dict:
    """A schedule in file form (names, ISO dates and times)."""
    return {
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        **({"description": schedule.description} if schedule.description else {}),
        "rotations": [
            {
                "name": r.name,
                "layer": r.layer,
                "length": r.length,
                **({"shift_hours": r.shift_hours} if r.length == ShiftLength.HOURS else {}),
                "handoff_time": r.handoff_time.strftime("%H:%M"),
                "start_date": r.start_date.isoformat(),
                "participants": [m.user.get_username() for m in r.members.select_related("user")],
            }
            for r in schedule.rotations.order_by("-layer", "id")
        ],
    }


STEP_TARGETS = {
    "schedule": "schedule",
    "next": "schedule",
    "person": "person",
    "group": "group",
    "channel": "channel",
    "repeat": "repeat_from",
}


def _step(item: dict, index: int, pending: frozenset = frozenset()) -> dict:
    from django.contrib.auth.models import Group

    from notifications.models import NotificationChannel
    from oncall.models import StepAction

    label = f"step {index + 1}"
    if not isinstance(item, dict):
        raise EditError(f"{label}: must be a mapping")
    action = str(item.get("action") or "")
    if action not in StepAction.values:
        raise EditError(f"{label}: action must be one of {', '.join(StepAction.values)}")
    unknown = set(item) - {"action", "wait_minutes", *STEP_TARGETS.values()}
    if unknown:
        raise EditError(f"{label}: unknown field {sorted(unknown)[0]!r}")
    target_field = STEP_TARGETS[action]
    value = item.get(target_field)
    if value in (None, ""):
        raise EditError(f"{label}: {action} needs {target_field}")
    try:
        wait = int(item.get("wait_minutes", 5))
    except (TypeError, ValueError):
        raise EditError(f"{label}: wait_minutes must be a number") from None
    if not 0 <= wait <= 1440:
        raise EditError(f"{label}: wait_minutes must be 0-1440")
    fields: dict[str, Any] = {"action": action, "wait_minutes": wait}
    if target_field == "schedule":
        found = Schedule.objects.filter(name=str(value)).first()
        if found is None and ("schedule", str(value)) not in pending:
            raise EditError(f"{label}: no schedule named {value!r}")
        fields["schedule"] = found
    elif target_field == "person":
        fields["person"] = users_by_name([value])[str(value)]
    elif target_field == "group":
        group = Group.objects.filter(name=str(value)).first()
        if group is None:
            raise EditError(f"{label}: no group named {value!r}")
        fields["group"] = group
    elif target_field == "channel":
        channel = NotificationChannel.objects.filter(name=str(value)).first()
        if channel is None and ("channel", str(value)) not in pending:
            raise EditError(f"{label}: no channel named {value!r}")
        fields["channel"] = channel
    else:
        try:
            fields["repeat_from"] = int(value)
        except (TypeError, ValueError):
            raise EditError(f"{label}: repeat_from must be a step number") from None
        if not 1 <= fields["repeat_from"] <= index:
            raise EditError(f"{label}: repeat_from must name a step before it (1-{index})")
    return fields


def check_policy(data: dict, pending: frozenset = frozenset()) -> dict:
    """The policy's fields and steps, checked. ``pending``: (kind, name) pairs a
    configuration file creates along with the policy, accepted as if they existed."""
    from notifications.models import RoutingRule

    name = str(data.get("name") or "").strip()
    if not name:
        raise EditError("a policy needs a name")
    try:
        repeat = int(data.get("repeat", 0))
    except (TypeError, ValueError):
        raise EditError("repeat must be a number") from None
    if not 0 <= repeat <= 20:
        raise EditError("repeat must be 0-20")
    steps = data.get("steps") or []
    if not isinstance(steps, list):
        raise EditError("steps must be a list")
    rule_names = [str(n) for n in data.get("routing_rules") or []]
    rules = {r.name: r for r in RoutingRule.objects.filter(name__in=rule_names)}
    missing = [n for n in rule_names if n not in rules and ("routing", n) not in pending]
    if missing:
        raise EditError(f"no routing rule named {', '.join(missing)}")
    return {
        "name": name,
        "description": str(data.get("description") or ""),
        "repeat": repeat,
        "steps": [_step(item, i, pending) for i, item in enumerate(steps)],
        "routing_rules": list(rules.values()),
    }


@transaction.atomic
def save_policy(data: dict, instance=None):
    """Create or replace a policy with its steps; the lint's findings are stored."""
    from oncall import lint
    from oncall.models import EscalationPolicy, EscalationStep

    checked = check_policy(data)
    policy = instance or EscalationPolicy()
    policy.name, policy.description = checked["name"], checked["description"]
    policy.repeat = checked["repeat"]
    policy.save()
    policy.steps.all().delete()
    EscalationStep.objects.bulk_create(
        EscalationStep(policy=policy, position=position, **fields)
        for position, fields in enumerate(checked["steps"])
    )
    policy.routing_rules.set(checked["routing_rules"])
    lint.refresh(policy)
    return policy


def policy_as_data(policy) -> dict:
    steps = []
    for step in policy.steps.select_related("schedule", "person", "group", "channel"):
        target = STEP_TARGETS[step.action]
        value = getattr(step, target)
        if target == "person":
            value = value.get_username()
        elif target != "repeat_from":
            value = value.name
        steps.append({"action": step.action, target: value, "wait_minutes": step.wait_minutes})
    return {
        "name": policy.name,
        **({"description": policy.description} if policy.description else {}),
        "repeat": policy.repeat,
        "routing_rules": sorted(r.name for r in policy.routing_rules.all()),
        "steps": steps,
    }
