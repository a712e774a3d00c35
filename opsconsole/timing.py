"""How long the console itself took over each request, in a ``Server-Timing`` header.

``Server-Timing: app;dur=4.21`` is the time in milliseconds from the first middleware
to the response, in the process that answered: what the request cost the console,
without the network, the HTTP server's parsing or a proxy in front. Browsers show it
beside each request in their developer tools; an agent or a load test reads it to tell
the console's own cost from the time spent waiting in queues."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class ServerTimingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed_ms:.2f}"
        return response
