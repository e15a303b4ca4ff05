"""`integritet demo` from a fresh home: generated data, printed sign-ins, idempotent reruns;
the access-log filter that drops query strings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from integritet.api.demo import people
from integritet.cli.server import DropQueryStrings


@pytest.mark.slow
def test_demo_seeds_a_fresh_home_once(
    home: Path,
    migrated_sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., object],
) -> None:
    # a fresh home (no keys, no demo data) on an empty database that has the schema
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", migrated_sqlite_url)
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast tests
    monkeypatch.setattr("integritet.identity.store.PasswordHasher", lambda: fast)
    first = run_cli("demo", "--seed-only", "--port", "8123")
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    out: str = first.output  # type: ignore[attr-defined]
    assert "created demo data" in out and "50 people, 4 customers, 4 requests" in out
    assert "http://127.0.0.1:8123/portal/link/" in out and "TOTP secret" in out
    assert "http://127.0.0.1:8123/console" in out
    assert (home / "demo.json").stat().st_mode & 0o077 == 0
    again = run_cli("demo", "--seed-only")
    assert again.exit_code == 0 and "reusing demo data" in again.output  # type: ignore[attr-defined]
    for line in ("kundadmin", "tekniker", "support"):
        assert line in again.output  # type: ignore[attr-defined]


def test_generated_people_look_swedish_and_are_stable() -> None:
    crowd = people(50)
    assert crowd == people(50)  # seeded
    assert len({p.email for p in crowd}) == 50
    assert all(p.email.endswith("@example.se") and p.phone.startswith("070-") for p in crowd)
    assert any(ch in "".join(p.name for p in crowd) for ch in "åäö")


def test_access_log_filter_drops_query_strings() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "GET", "/api/v1/may-contact?subject=anna@example.se", "1.1", 200),
        None,
    )
    assert DropQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1 - "GET /api/v1/may-contact HTTP/1.1" 200'


def test_demo_mailbox_writes_the_message_the_mailer_would_send(tmp_path: Path) -> None:
    from integritet.api.demo import MailboxMailer

    mailer = MailboxMailer(tmp_path / "mailbox")
    message_id = mailer.send(
        "anna@example.se", "Din kod", "Koden är 123456", unsubscribe_url="https://x.example/u/t"
    )
    (path,) = sorted((tmp_path / "mailbox").glob("*.eml"))
    raw = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert message_id in raw and "To: anna@example.se" in raw
    assert "List-Unsubscribe: <https://x.example/u/t>" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_demo_mailbox_uses_the_given_settings_for_the_preferences_link(tmp_path: Path) -> None:
    from email import message_from_bytes
    from email.policy import default

    from integritet.api.demo import MailboxMailer
    from integritet.settings import Settings

    settings = Settings(
        home=tmp_path,
        base_url="http://0.0.0.0:9123",
        smtp_sender="demo@integritet.invalid",
        privacy_contact="dpo@example.se",
    )
    MailboxMailer(tmp_path / "mailbox", settings).send("anna@example.se", "Din kod", "Koden")
    (path,) = sorted((tmp_path / "mailbox").glob("*.eml"))
    header = str(message_from_bytes(path.read_bytes(), policy=default)["List-Unsubscribe"])
    assert header.startswith("<http://0.0.0.0:9123/")
    assert "<mailto:dpo@example.se?" in header
