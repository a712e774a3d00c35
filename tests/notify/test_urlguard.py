"""Channel URLs may not reach the console's own network, unless an admin allows it."""

from __future__ import annotations

import pytest

from alerts.models import DeliveryStatus, Notification
from alerts.urlguard import UnsafeURL, check_url
from tests.notify.helpers import fire

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
