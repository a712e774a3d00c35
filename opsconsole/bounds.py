"""Bounds for the numbers operators type into rules and endpoints.

A rule window of 10^12 s is accepted by SQLite (an integer column takes 64 bits) and
then makes every evaluation pass fail computing "now minus the window"; PostgreSQL
refuses the same value at save with a 500. The bounds are model validators, so the
admin forms, the API (which validates through those forms) and ``import_config`` all
refuse the same values with the same message on both databases, and the evaluator and
the health cycle use them to recognise values stored before the bounds existed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.deconstruct import deconstructible

MINUTE = 60
HOUR = 3600
DAY = 86400


def duration(seconds: float) -> str:
    """'30 days', '1 day', '5 s': a bound as an operator reads it."""
    for size, unit in ((DAY, "day"), (HOUR, "hour"), (MINUTE, "minute")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


def between(low: float, high: float, unit: str = "s") -> list:
    """Validators keeping a value in [low, high], saying the bound in the field's unit."""

    def shown(value: float) -> str:
        if unit == "s":
            return duration(value) if value >= MINUTE else f"{value:g} s"
        return f"{value:g}{' ' + unit if unit else ''}"

    return [
        MinValueValidator(low, message=f"at least {shown(low)}"),
        MaxValueValidator(high, message=f"at most {shown(high)}"),
    ]


@deconstructible(path="opsconsole.bounds.FiniteValidator")
class FiniteValidator:
    """A float column holds infinities and NaN, which compare false with everything: a
    threshold of NaN would never fire and never resolve."""

    def __call__(self, value) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("must be a finite number", code="not_finite")

    def __eq__(self, other) -> bool:
        return isinstance(other, FiniteValidator)

    def __hash__(self) -> int:
        return hash(FiniteValidator)


finite = FiniteValidator()


def stored_problems(obj: models.Model, fields: Iterable[str]) -> list[str]:
    """What is wrong with the stored numbers of ``obj`` among ``fields``, one line each
    ('window_seconds: at most 30 days (stored: 1000000000000)'); empty when they hold.

    Only the fields' own validators run (not the whole model's clean), so checking a
    thousand rules when the evaluator loads them costs about a millisecond.
    """
    problems = []
    for name in fields:
        value = getattr(obj, name)
        if value is None:
            continue
        field = cast(models.Field, obj._meta.get_field(name))  # a column, never a relation
        try:
            for validator in field.validators:
                validator(value)
        except ValidationError as exc:
            problems.append(f"{name}: {' '.join(exc.messages)} (stored: {value!r})")
        except TypeError:
            problems.append(f"{name}: not a number (stored: {value!r})")
    return problems
