"""The first admin account, and what the start says about the password it was given."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def _setup() -> str:
    out = StringIO()
    call_command("setup_console", stdout=out, stderr=out)
    return out.getvalue()


def test_a_password_given_after_the_admin_exists_is_reported_as_not_applied(monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_ADMIN_PASSWORD", "first-password-123")
    _setup()
    monkeypatch.setenv("OPSCONSOLE_ADMIN_PASSWORD", "second-password-456")
    out = _setup()
    assert "OPSCONSOLE_ADMIN_PASSWORD is ignored" in out
    assert "manage.py changepassword admin" in out
    assert "second-password-456" not in out
    assert User.objects.get(username="admin").check_password("first-password-123")


def test_no_word_about_it_when_no_password_is_given(monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_ADMIN_PASSWORD", raising=False)
    _setup()
    assert "ignored" not in _setup()


def test_the_admin_password_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "admin-password"
    secret.write_text("from-a-file-789\n")
    monkeypatch.delenv("OPSCONSOLE_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("OPSCONSOLE_ADMIN_PASSWORD_FILE", str(secret))
    out = _setup()
    assert "from-a-file-789" not in out and "admin / " not in out
    assert User.objects.get(username="admin").check_password("from-a-file-789")


def test_an_unreadable_admin_password_file_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSCONSOLE_ADMIN_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="OPSCONSOLE_ADMIN_PASSWORD_FILE="):
        _setup()


def test_the_agent_token_can_come_from_a_file(monkeypatch, tmp_path):
    from metrics.management.commands import agent

    secret = tmp_path / "token"
    secret.write_text("oc_from_file\n")
    monkeypatch.delenv("OPSCONSOLE_AGENT_TOKEN", raising=False)
    monkeypatch.setenv("OPSCONSOLE_AGENT_TOKEN_FILE", str(secret))
    seen = {}

    class Stop(Exception):
        pass

    def made(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(agent, "Agent", made)
    with pytest.raises(Stop):
        call_command("agent", "--push", "http://127.0.0.1:1", "--once")
    assert seen["token"] == "oc_from_file"


def test_an_unreadable_agent_token_file_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("OPSCONSOLE_AGENT_TOKEN", raising=False)
    monkeypatch.setenv("OPSCONSOLE_AGENT_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="OPSCONSOLE_AGENT_TOKEN_FILE="):
        call_command("agent", "--push", "http://127.0.0.1:1", "--once")
