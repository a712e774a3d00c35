"""A URLconf with views that fail, for the error tracking tests."""

from __future__ import annotations

from django.urls import path
from ninja import NinjaAPI

boom_api = NinjaAPI(urls_namespace="boom", docs_url=None)


@boom_api.get("/hosts/{host_id}/report")
def failing_endpoint(request, host_id: int):
    return {"share": 1 / (host_id - host_id)}


def failing_view(request, order_id: int):
    card_number = "4111 1111 1111 1111"  # noqa: F841 (a frame variable Sentry would send)
    raise ValueError(f"payment for order {order_id} with card 4111-1111-1111-1111 refused")


def failing_task(order_id: int):
    slack_webhook_url = "https://hooks.slack.com/services/T000/B000/supersecretpath"
    raise RuntimeError(f"could not post order {order_id} to {slack_webhook_url}")


def declined_task(order_id: int):
    raise RuntimeError(f"order {order_id}: card 4111-1111-1111-1111 declined")


def quiet_task():
    return "ok"


urlpatterns = [
    path("orders/<int:order_id>/pay", failing_view),
    path("boom-api/", boom_api.urls),
]
