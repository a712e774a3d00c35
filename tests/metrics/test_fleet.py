"""The fleet view: the Hosts page and GET /api/v1/hosts, from a handful of hosts to
1,000 (with a query count that does not grow with them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.service import AlertService
from metrics.ingest import latest_cache_key
from metrics.models import Host, Metric, MinuteRollup
from tests.metrics.helpers import store
from tests.metrics.test_consumers import _headers

pytestmark = pytest.mark.django_db


def _fleet(count: int, *, prefix: str = "node") -> list[Host]:
    """``count`` reporting hosts, as ingest leaves them (host rows, latest values, an
    hour of minute roll-ups), made in bulk."""
    now = timezone.now()
    hosts = Host.objects.bulk_create(
        Host(hostname=f"{prefix}-{n:04d}", last_seen=now) for n in range(count)
    )
    cpu, _ = Metric.objects.get_or_create(key="cpu_usage_percent", name="cpu_usage_percent")
    disk, _ = Metric.objects.get_or_create(
        key='disk_usage_percent{mount="/"}', name="disk_usage_percent", labels={"mount": "/"}
    )
    cache.set_many(
        {
            latest_cache_key(host.pk): {
                "time": now.isoformat(),
                "values": {
                    "cpu_usage_percent": float(n % 100),
                    "memory_usage_percent": 40.0,
                    'disk_usage_percent{mount="/"}': 50.0,
                },
                "processes": [],
            }
            for n, host in enumerate(hosts)
        }
    )
    start = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    MinuteRollup.objects.bulk_create(
        MinuteRollup(
            host=host,
            metric=metric,
            bucket=start + timedelta(minutes=m),
            min=1,
            max=9,
            sum=10,
            count=2,
        )
        for host in hosts
        for metric in (cpu, disk)
        for m in range(30)
    )
    return hosts


def _queries(call) -> int:
    """Queries of one call once warm (the token's last use and the thresholds are
    written or cached by the first)."""
    call()
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_each_host_has_its_state(api_client, carol, token_for):
    now = timezone.now()
    store("calm-01", {"cpu_usage_percent": [(now, 12.0)], "memory_usage_percent": [(now, 30.0)]})
    store("busy-01", {"cpu_usage_percent": [(now, 97.0)]})
    store(
        "full-01",
        {
            "cpu_usage_percent": [(now, 5.0)],
            'disk_usage_percent{mount="/var"}': [(now, 96.0)],
            'disk_usage_percent{mount="/"}': [(now, 20.0)],
        },
    )
    store("quiet-01", {"cpu_usage_percent": [(now - timedelta(minutes=5), 12.0)]})
    Host.objects.create(hostname="new-01")
    body = api_client(token_for(carol)).get("/hosts", {"sort": "hostname"}).json()
    states = {host["hostname"]: host["state"] for host in body["hosts"]}
    assert states == {
        "busy-01": "critical",
        "calm-01": "ok",
        "full-01": "critical",
        "new-01": "no_data",
        "quiet-01": "stale",
    }
    assert body["states"] == {"ok": 1, "critical": 2, "no_data": 1, "stale": 1}
    full = next(h for h in body["hosts"] if h["hostname"] == "full-01")
    assert (full["disk_percent"], full["disk_mount"]) == (96.0, "/var")
    assert full["system_monitor"] == "/?host=full-01"


def test_it_sorts_filters_searches_and_pages(api_client, carol, token_for):
    _fleet(120)
    client = api_client(token_for(carol))
    busiest = client.get("/hosts", {"sort": "cpu", "per_page": 5}).json()
    assert [h["cpu_percent"] for h in busiest["hosts"]] == [99.0, 98.0, 97.0, 96.0, 95.0]
    calmest = client.get("/hosts", {"sort": "cpu", "order": "desc", "per_page": 2}).json()
    assert [h["cpu_percent"] for h in calmest["hosts"]] == [0.0, 0.0]
    found = client.get("/hosts", {"q": "node-011", "sort": "hostname"}).json()
    assert [h["hostname"] for h in found["hosts"]] == [f"node-011{n}" for n in range(10)]
    critical = client.get("/hosts", {"state": "critical", "per_page": 200}).json()
    # CPU 81-99 % is over the default 80 % threshold: nodes 81 to 99.
    assert critical["count"] == 19 and {h["state"] for h in critical["hosts"]} == {"critical"}
    last = client.get("/hosts", {"sort": "hostname", "page": 3}).json()
    assert (last["page"], last["pages"], len(last["hosts"])) == (3, 3, 20)
    assert last["hosts"][-1]["hostname"] == "node-0119"
    assert len(last["hosts"][0]["sparklines"]["cpu"]) == 31  # 30 minutes and the latest
    assert client.get("/hosts", {"sort": "name"}).status_code == 422


def test_it_counts_each_hosts_open_alerts(api_client, carol, token_for):
    _fleet(3)
    for _ in range(2):
        AlertService().create_system_alert("cpu_usage_percent", 95.0, 80.0, "node-0001")
    body = api_client(token_for(carol)).get("/hosts", {"sort": "alerts"}).json()
    assert [(h["hostname"], h["open_alerts"]) for h in body["hosts"]][:2] == [
        ("node-0001", 1),
        ("node-0000", 0),
    ]


def test_one_host_by_id(api_client, carol, token_for):
    (host,) = _fleet(1)
    client = api_client(token_for(carol))
    assert client.get(f"/hosts/{host.pk}").json()["hostname"] == "node-0000"
    assert client.get(f"/hosts/{host.pk + 1}").status_code == 404


def test_a_thousand_hosts_cost_the_queries_ten_do(client, carol, api_client, token_for):
    client.force_login(carol)
    token = token_for(carol)
    _fleet(10, prefix="few")
    few_page = _queries(lambda: client.get("/hosts/?sort=cpu"))
    few_api = _queries(lambda: api_client(token).get("/hosts", {"sort": "cpu"}))
    _fleet(990, prefix="many")
    assert Host.objects.count() == 1000
    many_page = _queries(lambda: client.get("/hosts/?sort=cpu"))
    many_api = _queries(lambda: api_client(token).get("/hosts", {"sort": "cpu"}))
    assert many_page == few_page and many_api == few_api
    assert many_page <= 12 and many_api <= 12, (many_page, many_api)
    # Every host's latest values are still there to sort by (a cache that culled at 300
    # entries lost most of them).
    states = api_client(token).get("/hosts").json()["states"]
    assert states["no_data"] == 0 and sum(states.values()) == 1000


def test_the_page_lists_hosts_that_open_their_system_monitor(client, carol):
    _fleet(60)
    client.force_login(carol)
    response = client.get("/hosts/?q=node-00&sort=hostname")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/?host=node-0000"' in html and "node-0049" in html
    assert "node-0050" not in html and "page 1 of 2" in html
    assert 'ws-connect="/ws/hosts/?q=node-00&amp;sort=hostname"' in html
    assert "<polyline" in html


def test_the_page_needs_a_role(client, mallory):
    client.force_login(mallory)
    assert client.get("/hosts/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_page_goes_live_with_the_fleets_batches(client, carol):
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.testing import WebsocketCommunicator

    from opsconsole.asgi import application

    now = timezone.now()
    store("web-01", {"cpu_usage_percent": [(now, 10.0)]})
    client.force_login(carol)
    headers = _headers(client)

    async def scenario():
        page = WebsocketCommunicator(application, "/ws/hosts/?sort=cpu", headers)
        assert (await page.connect(timeout=5))[0]
        await sync_to_async(store)("web-02", {"cpu_usage_percent": [(timezone.now(), 93.0)]})
        frame = await page.receive_from(timeout=10)
        await page.disconnect()
        return frame

    frame = async_to_sync(scenario)()
    assert 'id="fleet-table" hx-swap-oob="true"' in frame
    # The new host, busiest first, in the sort the page asked for.
    assert frame.index("web-02") < frame.index("web-01")
    assert "Critical load" in frame
