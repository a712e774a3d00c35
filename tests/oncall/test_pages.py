"""The On call page, a schedule's page with its 4-week calendar, and who may see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from oncall import editing
from tests.text import captured

pytestmark = pytest.mark.django_db


@pytest.fixture
def primary(bob):
    User.objects.create_user("ann", first_name="Ann", last_name="Lee")
    start = (timezone.now() - timedelta(days=3)).date().isoformat()
    return editing.save_schedule(
        {
            "name": "Primary",
            "time_zone": "Europe/Berlin",
            "rotations": [
                {
                    "name": "daily",
                    "length": "daily",
                    "start_date": start,
                    "participants": ["ann", "bob"],
                }
            ],
        }
    )


def test_the_oncall_page_names_who_is_on_call_and_flags_the_unreachable(
    client, carol, bob, primary
):
    client.force_login(carol)
    page = client.get("/oncall/").content.decode()
    assert "Primary" in page
    assert "Ann Lee" in page or "bob" in page
    assert "nobody would be reached" in page
    assert "/oncall/feeds/person/" in page


def test_a_schedule_page_shows_four_weeks(client, carol, bob, primary):
    client.force_login(carol)
    page = client.get(f"/oncall/schedules/{primary.pk}/").content.decode()
    assert page.count("<tr><td") == 4 or page.count("<tr>") >= 5
    assert "Layer 1: daily" in page
    # A viewer does not get the feed's secret address.
    assert primary.feed_token not in page
    client.force_login(bob)
    assert primary.feed_token in client.get(f"/oncall/schedules/{primary.pk}/").content.decode()


def test_people_without_a_role_see_nothing(client, mallory, primary):
    client.force_login(mallory)
    assert client.get("/oncall/").status_code == 403
    assert client.get(f"/oncall/schedules/{primary.pk}/").status_code == 403


def test_a_responder_adds_and_verifies_a_contact_method_from_the_page(
    client, bob, email_channel, smtp, django_capture_on_commit_callbacks
):

    from oncall.models import ContactMethod

    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(
            "/oncall/me/contact-methods/", {"kind": "email", "address": "bob@example.com"}
        )
    assert added.status_code == 302
    method = ContactMethod.objects.get(user=bob)
    body = smtp.messages[0][1].as_string()
    code = captured(r"code is (\d{6})", body)
    client.post(f"/oncall/me/contact-methods/{method.pk}/verify/", {"code": code})
    method.refresh_from_db()
    assert method.verified
    page = client.get("/oncall/").content.decode()
    assert "is verified" in page and "No verified contact method" not in page


def test_a_responder_covers_a_shift_and_a_viewer_cannot(client, bob, carol, primary):
    from oncall.models import Override

    window = {"schedule": primary.pk, "start": "2027-01-04T09:00", "end": "2027-01-05T09:00"}
    client.force_login(carol)
    assert client.post("/oncall/me/overrides/", window).status_code == 403
    client.force_login(bob)
    assert client.post("/oncall/me/overrides/", window).status_code == 302
    override = Override.objects.get()
    assert override.user == bob and override.start.isoformat() == "2027-01-04T08:00:00+00:00"


def test_nobody_removes_someone_elses_contact_method(client, bob, alice, verified):
    method = verified(alice)
    client.force_login(bob)
    assert client.post(f"/oncall/me/contact-methods/{method.pk}/delete/").status_code == 404
