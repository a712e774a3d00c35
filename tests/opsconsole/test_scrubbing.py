from __future__ import annotations

from opsconsole.scrubbing import FILTERED, Scrubber, secret_values


def test_it_removes_card_numbers_that_pass_the_luhn_check():
    text = Scrubber().text("charged 4111 1111 1111 1111 and 5500-0000-0000-0004")
    assert "4111" not in text and "5500" not in text
    assert text.count(FILTERED) == 2


def test_it_keeps_long_numbers_that_are_not_card_numbers():
    # 16 digits failing the Luhn check: an order id, not a card.
    assert Scrubber().text("order 1234567812345678 shipped") == "order 1234567812345678 shipped"


def test_it_removes_ibans_and_labelled_account_numbers():
    text = Scrubber().text("refund to GB82 WEST 1234 5698 7654 32, account no: 12345678")
    assert "WEST" not in text and "12345678" not in text


def test_it_removes_webhook_urls_tokens_and_url_credentials():
    text = Scrubber().text(
        "post to https://hooks.slack.com/services/T0/B0/xyz failed; "
        "db postgres://app:hunter22@db/ops; token opc_abcdefghijklmnop"
    )
    assert "xyz" not in text and "hunter22" not in text and "opc_abcdefgh" not in text


def test_it_filters_secret_keys_at_any_depth():
    data = Scrubber().data(
        {"channel": {"config": {"routing_key": "R0UT1NG", "twilio_auth_token": "tw1l10"}}}
    )
    assert data == {"channel": {"config": {"routing_key": FILTERED, "twilio_auth_token": FILTERED}}}


def test_it_cuts_the_values_of_secret_environment_variables():
    values = secret_values({"PAGERDUTY_ROUTING_KEY": "abcdef123456", "HOME": "/root/home"})
    assert Scrubber(values).text("sent with abcdef123456 from /root/home") == (
        f"sent with {FILTERED} from /root/home"
    )
