"""What answering from a message needs to remember."""

from __future__ import annotations

from django.db import models


class SlackRequestSeen(models.Model):
    """Signatures of Slack requests already answered within the 5-minute window: the
    same signed request sent again is a replay and refused."""

    signature = models.CharField(max_length=80, unique=True)
    at = models.DateTimeField(db_index=True)
