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


def test_it_masks_the_values_of_secret_flags_in_a_command_line():
    line = Scrubber().command_line(
        "python manage.py agent --push https://ops.example.com --token opc_abcdefghijklmnop "
        "--interval 15"
    )
    assert line == (
        "python manage.py agent --push https://ops.example.com --token *** --interval 15"
    )
    assert Scrubber().command_line("agent --token=s3cr3t --api-key k3y --db-password pw") == (
        "agent --token=*** --api-key *** --db-password ***"
    )


def test_it_masks_mysql_passwords_and_secret_assignments():
    assert Scrubber().command_line("mysql -u root -pHunter2 -h db") == "mysql -u root -p*** -h db"
    assert Scrubber().command_line(
        "env AWS_SECRET_ACCESS_KEY=abc HOME=/root java -Ddb.password=x"
    ) == ("env AWS_SECRET_ACCESS_KEY=*** HOME=/root java -Ddb.password=***")


def test_it_keeps_the_user_but_masks_the_password_of_urls_on_a_command_line():
    line = Scrubber().command_line(
        "pg_dump postgres://app:hunter22@db:5432/ops --out https://u:pw@host/x?access_token=QQQ&n=2"
    )
    assert (
        line
        == "pg_dump postgres://app:***@db:5432/ops --out https://u:***@host/x?access_token=***&n=2"
    )


def test_it_masks_bearer_tokens_and_secret_headers_on_a_command_line():
    line = Scrubber().command_line(
        "curl -H Authorization: Bearer abc.def -H X-Api-Key: k https://x"
    )
    assert line == "curl -H Authorization: Bearer *** -H X-Api-Key: *** https://x"


def test_it_keeps_ordinary_arguments_and_where_secrets_are_kept():
    line = "gunicorn --workers 4 --password-file /run/secrets/db --no-auth app:wsgi"
    assert Scrubber().command_line(line) == line
    # A flag followed by another flag had no value to hide.
    assert Scrubber().command_line("app --token --verbose") == "app --token --verbose"
