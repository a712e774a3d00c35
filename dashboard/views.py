from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from dashboard.status import public_status


def plain_status(request: HttpRequest) -> JsonResponse:
    """``GET /status`` (seed 002's extended status), for anyone: the public part of
    ``/api/v1/status``, without host names."""
    return JsonResponse(public_status())
