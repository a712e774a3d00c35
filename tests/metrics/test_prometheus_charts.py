"""The System Monitor charts read history from Prometheus when PROMETHEUS_URL is set.

The real tests backfill a TSDB with Debian's promtool from OpenMetrics text made here,
then start Debian's prometheus on it; the canned server checks the PromQL sent.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from metrics import history
from metrics.models import Host, MetricSample
from opsconsole.promquery import Series
from tests.metrics.helpers import store
from tests.opsconsole.prometheus import (
    PROMETHEUS,
    PROMTOOL,
    FakePrometheus,
    free_port,
    require_binaries,
    running_prometheus,
)

pytestmark = pytest.mark.django_db

NODE_CPU_QUERY = (
    "100 - avg by (instance) "
    '(rate(node_cpu_seconds_total{mode="idle",instance="{host}:9100"}[5m])) * 100'
)


def far_host_history(now: int) -> str:
    """Three days of far-01, one sample a minute, as OpenMetrics text.

    CPU is 10 plus the minute of the hour (a 10-69 % saw tooth); node_exporter's idle
    counter grows 0.75 s a second, which is 25 % busy.
    """
    minutes = range(now // 60 - 3 * 24 * 60, now // 60)
    lines = ["# TYPE opsconsole_host_cpu_usage_percent gauge"]
    lines += [
        f'opsconsole_host_cpu_usage_percent{{host="far-01"}} {10 + m % 60} {m * 60}'
        for m in minutes
    ]
    lines.append("# TYPE node_cpu_seconds counter")
    lines += [
        f'node_cpu_seconds_total{{cpu="0",instance="far-01:9100",mode="idle"}} {m * 45} {m * 60}'
        for m in minutes
    ]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def backfilled_prometheus(tmp_path_factory):
    """A real Prometheus holding far-01's last three days, and nothing scraped."""
    require_binaries(prometheus=PROMETHEUS, promtool=PROMTOOL)
    folder = tmp_path_factory.mktemp("prometheus")
    source = folder / "far-01.om"
    source.write_text(far_host_history(int(time.time())))
    data = folder / "data"
    assert PROMTOOL is not None  # require_binaries skipped the test otherwise
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = folder / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1h}\n")
    with running_prometheus(config, data, "--storage.tsdb.retention.time=30d") as url:
        yield url


@pytest.fixture
def fake_prometheus(settings):
    with FakePrometheus() as fake:
        settings.PROMETHEUS_URL = fake.url
        fake.answer = (200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
        yield fake


def _charts(client, user, host, **params):
    client.force_login(user)
    return client.get(f"/system/{host.pk}/charts/", params)


def test_it_draws_a_host_with_no_local_samples_from_prometheus(
    client, carol, settings, backfilled_prometheus
):
    settings.PROMETHEUS_URL = backfilled_prometheus
    host = Host.objects.create(hostname="far-01")
    assert not MetricSample.objects.filter(host=host).exists()
    response = _charts(client, carol, host, range="24h")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"History from Prometheus at {backfilled_prometheus}." in html
    # Only CPU was backfilled: one line and its min-max band, five empty charts.
    assert html.count("<svg") == 1 and html.count("No samples in this range yet.") == 5
    assert "<polygon" in html
    cpu = response.context["charts"][0]
    assert cpu.title == "CPU" and not cpu.empty


def test_the_points_keep_the_shape_prometheus_holds(settings, backfilled_prometheus):
    settings.PROMETHEUS_URL = backfilled_prometheus
    end = datetime.now(UTC)
    answered = history.prometheus_points("far-01", end - timedelta(days=7), end)
    cpu = answered.points["cpu_usage_percent"]
    # 42-minute windows (7 d / 240) over the three days held.
    assert 95 <= len(cpu) <= 105
    assert all(10 <= p.min <= p.value <= p.max <= 69 for p in cpu)
    assert all(40 <= p.count <= 43 for p in cpu[1:])
    assert cpu[-1].time > end - timedelta(hours=1)


def test_an_override_reads_node_exporter_series_through_a_subquery(settings, backfilled_prometheus):
    settings.PROMETHEUS_URL = backfilled_prometheus
    settings.PROMETHEUS_CHART_QUERIES = {"cpu_usage_percent": NODE_CPU_QUERY}
    end = datetime.now(UTC)
    answered = history.prometheus_points("far-01", end - timedelta(hours=24), end)
    cpu = answered.points["cpu_usage_percent"]
    assert len(cpu) >= 200
    assert all(abs(p.value - 25) < 0.01 for p in cpu)


def test_a_dead_prometheus_falls_back_to_local_samples_and_says_so(client, carol, settings):
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    response = _charts(client, carol, host, range="1h")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Prometheus at {settings.PROMETHEUS_URL} did not answer" in html
    assert "showing the console&#x27;s own samples" in html
    assert html.count("<svg") == 1


def test_source_console_reads_local_samples_without_asking_prometheus(
    client, carol, fake_prometheus
):
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    response = _charts(client, carol, host, range="6h", source="console")
    assert response.status_code == 200
    assert fake_prometheus.requests == []
    html = response.content.decode()
    assert "History from the console's own samples." in html
    assert html.count("<svg") == 1
    # The range picker keeps the choice, in the partial's URL and in the page's.
    assert "?range=24h&amp;source=console" in html
    assert '&range=24h&amp;source=console"' in html


def _matrix(*points, host="web-01"):
    result = (
        [{"metric": {"host": host}, "values": [[t, str(v)] for t, v in points]}] if points else []
    )
    return (200, {"status": "success", "data": {"resultType": "matrix", "result": result}})


def test_an_unknown_source_is_the_default(client, carol, fake_prometheus):
    fake_prometheus.answer = lambda params: _matrix((float(params["end"]), 12.5))
    host = Host.objects.create(hostname="web-01")
    response = _charts(client, carol, host, source="grafana")
    assert response.status_code == 200
    assert len(fake_prometheus.requests) == 24
    assert "History from Prometheus at" in response.content.decode()


def test_a_host_prometheus_holds_nothing_of_is_drawn_from_local_samples(
    client, carol, fake_prometheus
):
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    html = _charts(client, carol, host, range="1h").content.decode()
    assert (
        f"Prometheus at {fake_prometheus.url} holds no samples of web-01 in this range; "
        "showing the console&#x27;s own samples"
    ) in html
    assert html.count("<svg") == 1


def test_a_chart_whose_query_fails_alone_is_drawn_from_local_samples(
    client, carol, fake_prometheus
):
    def answer(params):
        if "cpu_usage_percent" in params["query"]:
            return (422, {"status": "error", "errorType": "execution", "error": "too many samples"})
        return _matrix((float(params["end"]), 3.0))

    fake_prometheus.answer = answer
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    response = _charts(client, carol, host, range="1h")
    html = response.content.decode()
    assert (
        "CPU from the console&#x27;s own samples: "
        "Prometheus refused the query: execution: too many samples"
    ) in html
    # CPU from the console (42 %), the five others from Prometheus (3.0 each).
    history = response.context["history"]
    assert history.source == "prometheus" and history.fallback == {"CPU"}
    assert [c.last for c in history.charts] == [
        "42.0 %",
        "3.0 %",
        "3.00",
        "3 B/s",
        "3 B/s",
        "3 B/s",
    ]
    assert html.count("console samples</span>") == 1


def test_the_page_waits_for_prometheus_at_most_its_timeout_in_all(
    client, carol, settings, fake_prometheus
):
    # Each query answers in 0.3 s, well within the timeout, but 24 of them 8 at a time
    # take 0.9 s: the third round is late. No query's own timeout can come before 1.1 s.
    settings.PROMETHEUS_TIMEOUT = 0.8
    fake_prometheus.delay = 0.3
    fake_prometheus.answer = lambda params: _matrix((float(params["end"]), 3.0))
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    html = _charts(client, carol, host, range="1h").content.decode()
    assert f"Prometheus at {fake_prometheus.url} did not answer within 0.8 s" in html


def _sent(fake: FakePrometheus) -> dict[str, dict]:
    return {params["query"]: params for path, params in fake.requests}


def test_the_host_is_escaped_inside_the_label_matcher(client, carol, fake_prometheus):
    host = Host.objects.create(hostname='we"b\\01')
    _charts(client, carol, host, range="1h")
    sent = _sent(fake_prometheus)
    assert 'avg_over_time(opsconsole_host_cpu_usage_percent{host="we\\"b\\\\01"}[15s])' in sent
    assert 'count_over_time(opsconsole_host_load_1m{host="we\\"b\\\\01"}[15s])' in sent


def test_host_regex_matches_the_host_name_literally(client, carol, settings, fake_prometheus):
    settings.PROMETHEUS_CHART_QUERIES = {"load_1m": 'node_load1{instance=~"{host_regex}:.*"}'}
    host = Host.objects.create(hostname="web.01+a")
    _charts(client, carol, host, range="1h")
    # RE2 escapes (\. and \+), each backslash doubled inside the PromQL string.
    expected = 'avg_over_time((node_load1{instance=~"web\\\\.01\\\\+a:.*"})[15s:15s])'
    assert expected in _sent(fake_prometheus)


def test_an_override_template_is_sent_in_a_subquery_on_whole_steps(
    client, carol, settings, fake_prometheus
):
    settings.PROMETHEUS_CHART_QUERIES = {"cpu_usage_percent": NODE_CPU_QUERY}
    host = Host.objects.create(hostname="web-01")
    _charts(client, carol, host, range="24h")
    expression = NODE_CPU_QUERY.replace("{host}", "web-01")
    params = _sent(fake_prometheus)[f"max_over_time(({expression})[360s:36s])"]
    assert params["step"] == "360"
    assert float(params["start"]) % 360 == 0 and float(params["end"]) % 360 == 0


def test_the_folds_of_a_window_become_one_point():

    def answer(*values, labels=None):
        return [Series(labels or {"host": "web-01"}, list(zip([60.0, 120.0], values, strict=True)))]

    points = history.merge_folds(
        {
            # A second series (another instance) is left out, the same one every time.
            "avg": answer(40.0, float("nan")) + answer(99.0, 99.0, labels={"host": "z"}),
            "min": answer(30.0, 1.0),
            "max": answer(55.0, 2.0),
            "count": answer(4.0, 4.0),
        }
    )
    # NaN (no samples in the window) is no point, not a zero.
    assert [(p.time.timestamp(), p.value, p.min, p.max, p.count) for p in points] == [
        (60.0, 40.0, 30.0, 55.0, 4)
    ]


def test_a_refused_query_falls_back_and_says_why(client, carol, fake_prometheus):
    fake_prometheus.answer = (
        400,
        {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
    )
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    response = _charts(client, carol, host)
    assert response.status_code == 200
    assert "Prometheus refused the query: bad_data: parse error at char 5; showing" in (
        response.content.decode()
    )
    assert response.content.count(b"<svg") == 1


def test_an_unreachable_prometheus_fails_every_chart_at_once(settings):
    from opsconsole.promquery import PrometheusUnreachable

    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    now = datetime.now(UTC)
    answered = history.prometheus_points("web-01", now - timedelta(hours=1), now)
    assert answered.points == {}
    assert list(answered.failures) == history.CHART_KEYS
    assert "did not answer" in answered.first_failure
    assert issubclass(PrometheusUnreachable, history.PrometheusError)


def test_a_password_in_prometheus_url_stays_off_the_page(client, carol, settings):
    settings.PROMETHEUS_URL = f"http://ops:s3cret@127.0.0.1:{free_port()}"
    host = Host.objects.create(hostname="web-01")
    html = _charts(client, carol, host).content.decode()
    assert "did not answer" in html and "s3cret" not in html


def test_without_prometheus_url_there_is_no_source_to_choose(client, carol, settings):
    settings.PROMETHEUS_URL = ""
    host = store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 42.0)]}).host
    html = _charts(client, carol, host, source="prometheus").content.decode()
    assert "source-picker" not in html and "Prometheus" not in html
    assert html.count("<svg") == 1


def test_a_query_for_no_chart_is_refused_in_one_line(settings):
    settings.PROMETHEUS_CHART_QUERIES = {"cpu_percent": NODE_CPU_QUERY}
    with pytest.raises(
        ImproperlyConfigured,
        match=r"^PROMETHEUS_CHART_QUERIES names cpu_percent, which no chart shows",
    ):
        history.check_chart_queries()


def test_answers_that_came_in_too_late_to_be_read_count_as_late(
    monkeypatch, settings, fake_prometheus
):
    """The deadline can pass while answers are read: those finished but not yet read
    are late too, not a KeyError."""
    from concurrent.futures import TimeoutError as FuturesTimeout
    from concurrent.futures import wait

    fake_prometheus.answer = lambda params: _matrix((float(params["end"]), 3.0))

    def read_one_then_run_out_of_time(futures, timeout=None):
        wait(futures)  # everything has answered...
        yield next(iter(futures))
        raise FuturesTimeout  # ...but the deadline passed after the first was read

    monkeypatch.setattr(history, "as_completed", read_one_then_run_out_of_time)
    now = datetime.now(UTC)
    answered = history.prometheus_points("web-01", now - timedelta(hours=1), now)
    assert list(answered.failures) == history.CHART_KEYS
    assert "did not answer within" in answered.first_failure
