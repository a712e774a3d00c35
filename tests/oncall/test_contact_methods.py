"""Contact methods: verified by a code sent through the channel kind's sender to the
person's own address, managed by their owner (or an admin) over the API."""

from __future__ import annotations

import pytest

from oncall import people
from oncall.models import ContactMethod
from tests.text import captured

pytestmark = pytest.mark.django_db


def _code(text: str) -> str:
    return captured(r"code is (\d{6})", text)


def plain_text(message) -> str:
    """The text/plain part of a received email."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_it_verifies_an_email_address_with_the_code_it_mailed(
    bob, email_channel, smtp, django_capture_on_commit_callbacks
):
    method = ContactMethod.objects.create(user=bob, kind="email", address="bob@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert people.send_verification(method) == ""
    envelope, message = smtp.messages[0]
    # The person's address, not the channel's list.
    assert envelope.rcpt_tos == ["bob@example.com"]
    code = _code(plain_text(message))
    assert people.confirm(method, "000000" if code != "000000" else "111111")
    assert not method.verified
    assert people.confirm(method, code) == ""
    assert method.verified


def test_it_texts_a_phone_through_the_twilio_channel_settings(
    bob, make_channel, receiver, django_capture_on_commit_callbacks
):
    make_channel("sms", receiver=receiver)
    method = ContactMethod.objects.create(user=bob, kind="phone", address="+15557654321")
    with django_capture_on_commit_callbacks(execute=True):
        people.send_verification(method)
    form = receiver.requests[0].form
    assert form["To"] == "+15557654321" and form["From"] == "+15550000001"
    code = captured(r"Code (\d{6})", form["Body"])
    assert people.confirm(method, code) == ""


def test_a_slack_member_is_mentioned_through_the_slack_channel(
    bob, make_channel, receiver, django_capture_on_commit_callbacks
):
    make_channel("slack", receiver=receiver)
    method = ContactMethod.objects.create(user=bob, kind="slack", address="U0BOB123")
    with django_capture_on_commit_callbacks(execute=True):
        people.send_verification(method)
    body = receiver.requests[0].json
    assert body["text"].startswith("<@U0BOB123> ")
    assert people.confirm(method, _code(body["blocks"][1]["text"]["text"])) == ""


def test_a_telegram_chat_gets_it_from_the_bot(
    bob, make_channel, receiver, django_capture_on_commit_callbacks
):
    make_channel("telegram", receiver=receiver)
    method = ContactMethod.objects.create(user=bob, kind="telegram", address="987654")
    with django_capture_on_commit_callbacks(execute=True):
        people.send_verification(method)
    assert receiver.requests[0].json["chat_id"] == "987654"


def test_without_a_channel_of_the_kind_nothing_is_sent(bob):
    method = ContactMethod.objects.create(user=bob, kind="phone", address="+15557654321")
    assert "no enabled sms channel" in people.send_verification(method)


def test_a_code_expires(bob, email_channel, settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    method = ContactMethod.objects.create(user=bob, kind="email", address="bob@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        people.send_verification(method)
    assert method.verification_sent_at is not None
    ContactMethod.objects.filter(pk=method.pk).update(
        verification_sent_at=method.verification_sent_at - timedelta(hours=1)
    )
    assert "expired" in people.confirm(method, method.verification_code)


def test_addresses_are_checked_by_kind():
    assert people.address_problem("phone", "5551234") != ""
    assert people.address_problem("phone", "+15551234567") == ""
    assert people.address_problem("slack", "bob") != ""
    assert people.address_problem("email", "not-mail") != ""


def test_responders_manage_their_own_contact_methods_over_the_api(
    client, bob, carol, alice, email_channel, smtp, django_capture_on_commit_callbacks
):
    client.force_login(bob)
    created = client.post(
        f"/api/v1/people/{bob.pk}/contact-methods",
        {"kind": "email", "address": "bob@example.com"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    method_id = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        tested = client.post(f"/api/v1/people/{bob.pk}/contact-methods/{method_id}/test")
    assert tested.status_code == 200
    code = _code(plain_text(smtp.messages[0][1]))
    verify = client.post(
        f"/api/v1/people/{bob.pk}/contact-methods/{method_id}/verify",
        {"code": code},
        content_type="application/json",
    )
    assert verify.json()["ok"] is True
    # Someone else's methods are not theirs to see or change.
    assert client.get(f"/api/v1/people/{alice.pk}/contact-methods").status_code == 403
    client.force_login(carol)  # a viewer manages nothing
    assert client.get(f"/api/v1/people/{carol.pk}/contact-methods").status_code == 403
    client.force_login(alice)  # an admin manages anyone's
    listed = client.get(f"/api/v1/people/{bob.pk}/contact-methods").json()
    assert [m["verified"] for m in listed] == [True]


def test_the_api_refuses_an_address_that_is_not_of_its_kind(client, bob):
    client.force_login(bob)
    answer = client.post(
        f"/api/v1/people/{bob.pk}/contact-methods",
        {"kind": "phone", "address": "555"},
        content_type="application/json",
    )
    assert answer.status_code == 422 and "E.164" in answer.json()["detail"]


def test_people_without_a_verified_method_are_flagged(client, bob, carol, verified):
    verified(bob)
    ContactMethod.objects.create(user=carol, kind="email", address="carol@example.com")
    client.force_login(carol)
    listed = {p["username"]: p["reachable"] for p in client.get("/api/v1/people").json()}
    assert listed["bob"] is True and listed["carol"] is False
    assert people.unreachable_ids([bob.pk, carol.pk]) == {carol.pk}


def test_a_slack_bot_messages_the_member_directly(
    bob, make_channel, receiver, django_capture_on_commit_callbacks
):
    make_channel(
        "slack",
        config={"api_base": f"{receiver.url}/api"},
        secrets={"bot_token": "xoxb-BOT-TOKEN-1234"},
    )
    method = ContactMethod.objects.create(user=bob, kind="slack", address="U0BOB123")
    with django_capture_on_commit_callbacks(execute=True):
        people.send_verification(method)
    request = receiver.requests[0]
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == "Bearer xoxb-BOT-TOKEN-1234"
    assert request.json["channel"] == "U0BOB123"
    assert people.confirm(method, _code(request.json["blocks"][1]["text"]["text"])) == ""


def test_a_slack_channel_needs_a_webhook_or_a_bot():
    from notifications.notifiers import validate

    assert validate("slack", {}, {})[0].startswith("secrets.webhook_url is required")
    assert validate("slack", {}, {"bot_token": "xoxb-1"}) == []
