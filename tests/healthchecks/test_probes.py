"""Probes against real servers on loopback: answers, wrong answers, slowness, refusals."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from healthchecks.probes import http_client, probe

pytestmark = pytest.mark.django_db


def check(endpoint):
    async def run():
        async with http_client() as client:
            return await probe(endpoint, client)

    return asyncio.run(run())


def test_it_passes_a_healthy_http_service_and_sends_the_method_and_headers(
    http_server, make_endpoint
):
    endpoint = make_endpoint(
        target=http_server.url("/health"),
        http_method="POST",
        http_headers={"X-Probe": "opsconsole"},
    )
    result = check(endpoint)
    assert result.ok and result.status_code == 200 and result.response_ms > 0
    assert http_server.received[0]["method"] == "POST"
    assert http_server.received[0]["headers"]["X-Probe"] == "opsconsole"


def test_it_fails_a_wrong_status_and_says_which(http_server, make_endpoint):
    result = check(make_endpoint(target=http_server.url("/wrong")))
    assert not result.ok
    assert result.error == "status 500, expected 200-399"


def test_it_accepts_the_status_codes_it_is_told_to(http_server, make_endpoint):
    result = check(make_endpoint(target=http_server.url("/wrong"), accepted_status_codes="500"))
    assert result.ok


def test_it_fails_when_the_keyword_is_missing(http_server, make_endpoint):
    result = check(make_endpoint(target=http_server.url("/"), expect_keyword="maintenance"))
    assert not result.ok and "maintenance" in result.error


def test_it_checks_a_json_path_value(http_server, make_endpoint):
    good = make_endpoint(
        "good",
        target=http_server.url("/json"),
        expect_json_path="$.status",
        expect_json_value="ok",
    )
    bad = make_endpoint(
        "bad",
        target=http_server.url("/json"),
        expect_json_path="$.checks.db",
        expect_json_value="false",
    )
    assert check(good).ok
    result = check(bad)
    assert not result.ok and result.error == "$.checks.db is True, expected 'false'"


def test_a_slow_service_times_out(http_server, make_endpoint):
    http_server.server.slow_seconds = 2.0
    result = check(make_endpoint(target=http_server.url("/slow"), timeout_seconds=0.3))
    assert not result.ok and result.error == "timed out after 0.3 s"


def test_a_service_that_is_down_fails_with_the_reason(closed_port, make_endpoint):
    result = check(make_endpoint(target=f"http://127.0.0.1:{closed_port}/"))
    assert not result.ok and result.error.startswith("ConnectError")


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
def test_it_refuses_other_schemes_and_metadata_addresses(make_endpoint, target):
    result = check(make_endpoint(target=target))
    assert not result.ok and result.error.startswith("refused:")


def test_it_refuses_a_redirect_to_the_metadata_service(http_server, make_endpoint):
    result = check(make_endpoint(target=http_server.url("/to-metadata")))
    assert not result.ok and "metadata" in result.error


def test_tcp_connect_passes_on_a_listening_port(http_server, make_endpoint):
    port = http_server.server.server_address[1]
    assert check(make_endpoint(kind="tcp", target=f"127.0.0.1:{port}")).ok


def test_tcp_connect_fails_on_a_refusing_port(closed_port, make_endpoint):
    result = check(make_endpoint(kind="tcp", target=f"127.0.0.1:{closed_port}"))
    assert not result.ok and "ConnectionRefusedError" in result.error


def test_the_console_database_answers(make_endpoint):
    result = check(make_endpoint(kind="database", target="default"))
    assert result.ok and result.details["connect_ms"] >= 0


def test_an_unknown_database_alias_fails_clearly(make_endpoint):
    result = check(make_endpoint(kind="database", target="reports"))
    assert not result.ok and result.error.startswith("no database alias 'reports'")


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return None
    return "redis://127.0.0.1:6379/3"


def test_a_running_redis_answers(make_endpoint):
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis on loopback")
    assert check(make_endpoint(kind="redis", target=url)).ok


def test_a_stopped_redis_fails(closed_port, make_endpoint):
    result = check(make_endpoint(kind="redis", target=f"redis://127.0.0.1:{closed_port}/0"))
    assert not result.ok and "ConnectionError" in result.error


def test_the_task_queue_is_down_when_no_worker_runs(make_endpoint):
    result = check(make_endpoint(kind="queue", target=""))
    assert not result.ok and result.error.startswith("no task workers are running")


def _tls_server(cert):
    import http.server
    import ssl
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            return

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_certificate_near_expiry_is_a_warning(make_endpoint):
    import ssl
    from datetime import UTC, datetime, timedelta

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", not_after=datetime.now(UTC) + timedelta(days=5))
    server = _tls_server(cert)
    try:
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        endpoint = make_endpoint(
            target=f"https://localhost:{server.server_address[1]}/", tls_expiry_warning_days=14
        )

        async def run():
            async with http_client(verify=client_context) as client:
                return await probe(endpoint, client)

        result = asyncio.run(run())
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok
    assert result.warning == "the TLS certificate expires in 5 days"


# The probe reads the queue from a thread of its own, which sees only committed rows.
@pytest.mark.django_db(transaction=True)
def test_the_task_queue_reports_its_length_and_oldest_task(make_endpoint, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import OrmQ

    if settings.Q_BROKER != "orm":
        pytest.skip("the task age is read from the ORM broker")
    from django_q.brokers import get_broker

    queued = get_broker().enqueue("a signed task")
    OrmQ.objects.filter(pk=queued).update(lock=timezone.now() - timedelta(seconds=90))
    result = check(make_endpoint(kind="queue", target=""))
    assert result.details["queued"] == 1
    assert result.details["oldest_queued_seconds"] >= 90
    assert result.error == "no task workers are running; 1 tasks wait"


def test_it_says_who_is_asking(http_server, make_endpoint):
    check(make_endpoint(target=http_server.url("/")))
    assert http_server.received[0]["headers"]["User-Agent"] == "OpsConsole-healthcheck/1"


def test_a_keyword_past_the_first_mebibyte_is_not_found(http_server, make_endpoint):
    http_server.server.ok_body = b"x" * (2 * 1024 * 1024) + b"needle"
    result = check(make_endpoint(target=http_server.url("/"), expect_keyword="needle"))
    assert not result.ok and result.error == "keyword 'needle' not in the response"
