"""ASGI entry point: HTTP through Django, websockets through Channels (authenticated,
same-origin only)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsconsole.settings")
django.setup(set_prefix=False)

from opsconsole.handlers import OneThreadASGIHandler  # noqa: E402

# get_asgi_application(), with every middleware and the view in one thread.
django_asgi_app = OneThreadASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from opsconsole.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
