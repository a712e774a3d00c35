"""Channel URLs may not reach the console's own network, unless an admin allows it."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from notifications.models import DeliveryStatus, Notification
from notifications.urlguard import UnsafeURL, check_url
from tests.notifications.helpers import fire

pytestmark = pytest.mark.django_db


@pytest.fixture
def nothing_allowed(settings):
    settings.NOTIFY_ALLOWED_HOSTS = []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    ],
)
def test_it_refuses_addresses_inside_the_network(nothing_allowed, url):
    with pytest.raises(UnsafeURL, match="non-public address"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.215.14/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://93.184.215.14/", "only http and https"),
        ("http://user:pw@93.184.215.14/", "credentials"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_it_refuses_other_schemes_and_odd_urls(nothing_allowed, url, reason):
    with pytest.raises(UnsafeURL, match=reason):
        check_url(url)


def test_it_accepts_a_public_address(nothing_allowed):
    check_url("https://93.184.215.14/services/T000/B000/XXX")


def test_an_admin_can_allow_a_host_or_a_network(settings):
    settings.NOTIFY_ALLOWED_HOSTS = ["10.0.0.0/8", "localhost"]
    check_url("http://10.20.30.40/hook")
    check_url("http://localhost/hook")
    with pytest.raises(UnsafeURL):
        check_url("http://192.168.1.1/hook")


def test_a_redirect_into_the_network_is_refused_at_connect_time(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    # The receiver itself is allowed; the metadata address it redirects to is not.
    receiver.answer((307, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""))
    make_channel("webhook", receiver=receiver)
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get(alert__alert_type="disk_full")
    assert notification.status == DeliveryStatus.FAILED
    assert "169.254.169.254" in notification.last_error
    assert len(receiver.requests) == 1


def test_a_channel_saved_before_the_rules_tightened_is_refused_at_connect_time(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    settings.NOTIFY_ALLOWED_HOSTS = []
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get(alert__alert_type="disk_full")
    assert notification.status == DeliveryStatus.FAILED
    assert "refused" in notification.last_error
    assert receiver.requests == []


def test_a_name_that_rebinds_to_the_network_after_the_check_is_refused_at_connect(
    settings, monkeypatch, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    """DNS rebinding: public for the check before the request, loopback a moment later.

    The name is answered here (no DNS server can be pointed at in a test); the receiver
    behind the loopback address is real and must see nothing.
    """
    port = int(receiver.url.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"])
    lookups = []

    def rebinding(host, *args, **kwargs):
        if host == "hooks.rebind.test":
            address = next(answers, "127.0.0.1")
            lookups.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    make_channel("webhook", secrets={"url": f"http://hooks.rebind.test:{port}/incoming"})
    settings.NOTIFY_ALLOWED_HOSTS = []
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get(alert__alert_type="disk_full")
    assert notification.status == DeliveryStatus.FAILED
    assert "refused" in notification.last_error and "127.0.0.1" in notification.last_error
    # The check before the request saw the public answer; the connection's own
    # lookup, the second, saw the inside one and refused it.
    assert lookups == ["93.184.215.14", "127.0.0.1"]
    assert receiver.requests == []


def test_the_notifiers_client_checks_the_address_it_connects_to(nothing_allowed, receiver):
    from notifications.notifiers import http_client

    with pytest.raises(UnsafeURL, match=r"127\.0\.0\.1, a non-public address"):
        http_client().post(f"{receiver.url}/incoming", json={})
    assert receiver.requests == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_through_the_guard_still_checks_the_certificate_against_the_name(settings, tmp_path):
    """The socket goes to the checked address, the TLS handshake names the host."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx

    from notifications.urlguard import guard

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        settings.NOTIFY_ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
        with httpx.Client(transport=guard(httpx.HTTPTransport(verify=trusting))) as client:
            assert client.post(f"https://localhost:{port}/hook", json={}).status_code == 204
            # By address the certificate (issued to localhost) does not match.
            with pytest.raises(httpx.ConnectError, match=r"certificate|IP address mismatch"):
                client.post(f"https://127.0.0.1:{port}/hook", json={})
    finally:
        server.shutdown()
        server.server_close()


def test_a_name_that_does_not_resolve_now_is_retried_not_dropped(
    nothing_allowed, make_channel, route_all, django_capture_on_commit_callbacks
):
    make_channel("webhook", secrets={"url": "http://no-such-host.invalid/hook"})
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get(alert__alert_type="disk_full")
    assert notification.status == DeliveryStatus.RETRYING
    assert "does not resolve" in notification.last_error


def test_channels_still_go_through_the_environments_proxy(monkeypatch, nothing_allowed, receiver):
    """HTTP(S)_PROXY applies: the guarded client keeps httpx's proxy mounts."""
    from notifications import notifiers

    monkeypatch.setenv("HTTP_PROXY", receiver.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setattr(notifiers, "_client", None)
    try:
        notifiers.http_client().post("http://93.184.215.14/hook", json={"ok": True})
    finally:
        notifiers._client = None  # the next test builds its own, without the proxy
    [request] = receiver.requests
    assert request.path == "http://93.184.215.14/hook"  # a proxy's absolute form
