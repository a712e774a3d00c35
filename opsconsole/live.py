"""Publishing to websocket groups from any process (web, q2 worker, ticker).

The channel layer is configured to cross processes in both modes (SQLite-backed
embedded, Redis in production), so a worker's event reaches daphne's consumers.
Publishing never breaks the caller: a failed send is logged, the data is stored.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def publish_now(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("publishing to %s failed", group)


def publish_on_commit(group: str, message: dict, *, using: str | None = None) -> None:
    """Publish once the surrounding transaction commits, never for rolled-back data."""
    transaction.on_commit(lambda: publish_now(group, message), using=using)
