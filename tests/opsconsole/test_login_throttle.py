"""Failed logins are throttled per account and per address, on both login pages."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from opsconsole.models import AuditEntry

LOGIN_PAGES = ["/login/", "/admin/login/"]


def _try(client, page, username, password, ip="10.0.0.1"):
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_it_refuses_the_right_password_after_many_wrong_ones(client, alice, page):
    for _ in range(30):
        _try(client, page, "alice", "wrong")
    r = _try(client, page, "alice", "pw-alice")
    assert r.status_code == 429
    assert "Too many failed logins" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_locks_the_account_from_any_address(client, alice, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _try(client, "/login/", "alice", "wrong", ip=f"10.0.0.{n + 1}")
    r = _try(client, "/login/", "alice", "pw-alice", ip="10.9.9.9")
    assert r.status_code == 429


def test_it_locks_the_address_whatever_account_it_tries(client, alice, bob, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _try(client, "/login/", f"guess{n}", "wrong", ip="10.0.0.7")
    assert _try(client, "/login/", "bob", "pw-bob", ip="10.0.0.7").status_code == 429
    # Another address still logs in.
    assert _try(client, "/login/", "bob", "pw-bob", ip="10.0.0.8").status_code == 302


def test_it_lets_a_few_mistakes_pass(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _try(client, "/login/", "alice", "wrong")
    assert _try(client, "/login/", "alice", "pw-alice").status_code == 302


def test_it_audits_the_lockout_and_the_unlock(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _try(client, "/login/", "alice", "wrong")
    locked = AuditEntry.objects.filter(kind=AuditEntry.Kind.LOGIN_LOCKED)
    assert [e.actor for e in locked] == ["alice"]
    assert locked[0].data["ip"] == "10.0.0.1"

    call_command("axes_reset_username", "alice", stdout=None)
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.LOGIN_UNLOCKED).exists()
    assert _try(client, "/login/", "alice", "pw-alice", ip="10.0.0.2").status_code == 302


def test_an_admin_unlocks_in_the_admin(client, alice, bob, settings):
    from axes.models import AccessAttempt

    from opsconsole.bootstrap import load_defaults

    load_defaults()  # gives the Admins group its permissions
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _try(client, "/login/", "bob", "wrong", ip="10.0.0.5")
    assert _try(client, "/login/", "bob", "pw-bob", ip="10.0.0.6").status_code == 429

    admin = client.__class__()
    admin.force_login(alice)
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    r = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert r.status_code == 302
    assert not AccessAttempt.objects.exists()
    unlocked = AuditEntry.objects.filter(kind=AuditEntry.Kind.LOGIN_UNLOCKED)
    assert {e.actor for e in unlocked} == {"alice"}
    assert _try(client, "/login/", "bob", "pw-bob", ip="10.0.0.6").status_code == 302
