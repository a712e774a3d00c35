"""The agent against a real console (pytest-django's live server) and loopback stand-ins
for a console that is down, overloaded or refusing."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from http.server import ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.agent import Agent, TokenRefused, ingest_url
from metrics.models import Host, MetricSample, ProcessSample
from tests.loopback import QuietHandler, write_json

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """A stand-in console: answers each request with the next scripted status."""

    def __init__(self, statuses: list[tuple[int, dict]]):
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        recorder = self

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                recorder.bodies.append(json.loads(self.rfile.read(length)))
                status, headers = recorder.statuses.pop(0) if recorder.statuses else (201, {})
                write_json(self, status, {"detail": f"scripted {status}"}, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    made = []

    def make(statuses):
        made.append(Recorder(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _agent(url, token="t", sleeps=None, **kwargs):
    return Agent(
        url=ingest_url(url),
        token=token,
        hostname="agent-host",
        top_n=3,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        **kwargs,
    )


def test_it_accepts_a_base_url_or_the_ingest_url():
    assert ingest_url("http://c:8000/") == "http://c:8000/api/v1/metrics"
    assert ingest_url("https://c/api/v1/metrics") == "https://c/api/v1/metrics"
    with pytest.raises(ValueError, match="http"):
        ingest_url("c:8000")


def test_a_batch_reaches_the_console(live_server, alice, token_for):
    agent = _agent(live_server.url, token_for(alice, "ingest"))
    batch = agent.sample()
    assert agent.drain() is True
    host = Host.objects.get(hostname="agent-host")
    stored = MetricSample.objects.filter(host=host).count()
    assert stored == len(batch["samples"]) > 10
    assert ProcessSample.objects.filter(host=host).count() == len(batch["processes"]) > 0
    # Labelled series arrive under their full key.
    keys = set(MetricSample.objects.filter(host=host).values_list("metric__key", flat=True))
    assert any(key.startswith("disk_usage_percent{mount=") for key in keys)
    assert host.agent_version == "1" and host.cpu_count


def test_an_outage_loses_nothing_and_doubles_nothing(live_server, alice, token_for):
    token = token_for(alice, "ingest")
    down = _agent(f"http://127.0.0.1:{_closed_port()}", token)
    sent = [down.sample() for _ in range(3)]
    # The console is down: the agent keeps everything and gives up only for now.
    assert down.drain(max_wait=5) is False
    assert down.pending() == 3
    # The console is back (same agent, now pointed at it): the backlog goes in one
    # request, oldest first, and a batch sent twice is stored once.
    down.url = ingest_url(live_server.url)
    assert down.drain() is True and down.pending() == 0
    down.enqueue(sent[0])
    assert down.drain() is True
    expected = sum(len(b["samples"]) for b in sent)
    assert MetricSample.objects.filter(host__hostname="agent-host").count() == expected


def test_a_resent_batch_is_known_by_its_id_and_not_written_again(live_server, alice, token_for):
    agent = _agent(live_server.url, token_for(alice, "ingest"))
    batches = [agent.sample() for _ in range(2)]
    assert len({batch["batch_id"] for batch in batches}) == 2
    assert agent.drain() is True
    # The answer was lost: the agent sends the same batch again, alone and with a new one.
    agent.enqueue(batches[1])
    assert agent.drain() is True
    response = agent._client.post(agent.url, json=batches[0])
    assert response.status_code == 200, response.text
    assert response.json()["resent_batches"] == 1 and response.json()["samples"] == 0
    host = Host.objects.get(hostname="agent-host")
    assert MetricSample.objects.filter(host=host).count() == sum(len(b["samples"]) for b in batches)
    # Process rows have no key to skip a repeat by: only the batch id keeps them single.
    assert ProcessSample.objects.filter(host=host).count() == sum(
        len(b["processes"]) for b in batches
    )


def test_the_backlog_goes_oldest_first_in_few_requests(recorder):
    console = recorder([(503, {}), (201, {})])
    agent = _agent(console.url)
    batches = [agent.sample() for _ in range(4)]
    assert agent.drain() is True
    assert len(console.bodies) == 2
    assert console.bodies[1]["batches"] == batches


def test_a_full_buffer_drops_the_oldest_and_counts_it(recorder):
    console = recorder([])
    agent = _agent(console.url, buffer_size=2)
    _first, second, third = (agent.sample() for _ in range(3))
    assert agent.dropped == 1 and list(agent.buffer) == [second, third]
    assert agent.drain() is True
    assert console.bodies[0]["batches"] == [second, third]


def test_retry_after_is_honoured(recorder):
    console = recorder([(429, {"Retry-After": "7"}), (503, {"Retry-After": "2"})])
    sleeps: list[float] = []
    agent = _agent(console.url, sleeps=sleeps)
    agent.sample()
    assert agent.drain() is True
    assert sleeps == [7.0, 2.0]
    assert len(console.bodies) == 3


def test_backoff_grows_and_is_capped(recorder):
    console = recorder([(500, {})] * 12)
    sleeps: list[float] = []
    agent = _agent(console.url, sleeps=sleeps)
    agent.sample()
    assert agent.drain() is True
    assert all(b > a * 0.9 or b >= 30 for a, b in itertools.pairwise(sleeps))
    assert max(sleeps) <= 60


def test_a_refused_batch_is_dropped_with_the_consoles_reason(recorder, caplog):
    console = recorder([(422, {}), (201, {})])
    agent = _agent(console.url)
    agent.sample()
    assert agent.drain() is True
    assert agent.pending() == 0 and agent.delivered == 0
    assert "scripted 422" in caplog.text


def test_one_bad_batch_in_a_backlog_does_not_sink_the_others(recorder):
    # The whole request is refused; sent one by one, only the bad batch is dropped.
    console = recorder([(422, {}), (201, {}), (422, {}), (201, {})])
    agent = _agent(console.url)
    batches = [agent.sample() for _ in range(3)]
    assert agent.drain() is True
    assert agent.delivered == 2
    assert [b.get("host") for b in console.bodies[1:]] == [b["host"] for b in batches]


def test_a_refused_token_stops_the_agent(recorder):
    console = recorder([(401, {})])
    agent = _agent(console.url)
    agent.sample()
    with pytest.raises(TokenRefused, match="token refused: scripted 401"):
        agent.drain()
    assert agent.pending() == 1  # kept: a new token can still send it


def test_the_spool_survives_a_restart(recorder, tmp_path):
    spool = tmp_path / "agent.spool"
    first = _agent(f"http://127.0.0.1:{_closed_port()}", spool=spool)
    kept = [first.sample() for _ in range(2)]
    first.save_spool()
    first.close()
    console = recorder([])
    second = _agent(console.url, spool=spool)
    assert list(second.buffer) == kept
    assert all(batch["batch_id"] for batch in second.buffer)  # a resend keeps its id
    assert second.drain() is True
    second.save_spool()
    assert spool.read_text() == ""


def test_the_command_sends_once_and_reports(live_server, alice, token_for, capsys):
    token = token_for(alice, "ingest")
    call_command(
        "agent", "--push", live_server.url, "--token", token, "--once", "--hostname", "cmd-host"
    )
    assert MetricSample.objects.filter(host__hostname="cmd-host").exists()


def test_the_command_reports_the_host_opsconsole_hostname_names(
    live_server, alice, token_for, monkeypatch
):
    monkeypatch.setenv("OPSCONSOLE_HOSTNAME", "edge-7")
    token = token_for(alice, "ingest")
    call_command("agent", "--push", live_server.url, "--token", token, "--once")
    call_command(
        "agent", "--push", live_server.url, "--token", token, "--once", "--hostname", "edge-8"
    )
    assert set(Host.objects.values_list("hostname", flat=True)) == {"edge-7", "edge-8"}


def test_the_command_reports_this_machine_by_default(live_server, alice, token_for, monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_HOSTNAME", raising=False)
    call_command(
        "agent", "--push", live_server.url, "--token", token_for(alice, "ingest"), "--once"
    )
    assert list(Host.objects.values_list("hostname", flat=True)) == [socket.gethostname()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--push", "console:8000", "--token", "t"], "http:// or https://"),
        (["--push", "http://127.0.0.1:1"], "no token"),
        (["--push", "http://127.0.0.1:1", "--token", "t", "--interval", "0"], "--interval"),
    ],
)
def test_the_command_refuses_bad_options_in_one_line(args, message, monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_AGENT_TOKEN", raising=False)
    with pytest.raises(CommandError, match=message):
        call_command("agent", *args)


def test_the_command_says_when_the_token_is_refused(live_server, db):
    with pytest.raises(CommandError, match="token refused"):
        call_command("agent", "--push", live_server.url, "--token", "oc_wrong", "--once")
