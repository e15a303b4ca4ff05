"""kill -9 mid-sweep then a rerun; legal holds never broken (property test); warnings once."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.manifest.model import (
    Anchor,
    Duration,
    LegalHold,
    RetentionRule,
    Text,
)
from integritet.retention import rules, run, schedule_daily
from integritet.settings import Settings
from integritet.vault import Vault

from .conftest import APP, opened, person

KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime, UTC
    from integritet.clock import FixedClock
    from integritet.manifest import load_manifest
    from integritet.manifest.model import Anchor, Duration, RetentionRule
    from integritet.retention import run, sweep
    from integritet.settings import Settings
    from integritet.vault import open_vault

    from pathlib import Path
    manifest = load_manifest(Path(sys.argv[1]))
    rule = RetentionRule(id="old-logs", categories=["access_log"],
                         duration=Duration.parse("30d"), anchor=Anchor.collected)
    manifest = manifest.model_copy(update={"retention": [rule], "log_sources": [],
                                           "datasets": []})
    settings = Settings(home=sys.argv[2], database_url=sys.argv[3])
    vault = open_vault(settings, manifest, FixedClock(datetime(2026, 6, 1, tzinfo=UTC)),
                       notify=lambda _m: None)
    sweep.BATCH = 3
    appended = vault.audit.append
    calls = []

    def append(session, event):
        position = appended(session, event)
        if event.action.startswith("retention."):
            calls.append(event)
        if len(calls) == 3:  # inside the third batch's transaction, before its commit
            os.kill(os.getpid(), signal.SIGKILL)
        return position

    if not os.environ.get("INTEGRITET_FAILPOINT"):  # else the fault point kills the process
        vault.audit.append = append
    run(manifest, vault, FixedClock(datetime(2026, 6, 1, tzinfo=UTC)))
    """
)


@pytest.mark.slow
def test_kill_9_mid_sweep_then_rerun(
    retention_settings: Settings, loggamera: Manifest, clock: FixedClock, tmp_path: Path
) -> None:
    rule = RetentionRule(
        id="old-logs", categories=["access_log"], duration=Duration.parse("30d"),
        anchor=Anchor.collected,
    )  # fmt: skip
    manifest = loggamera.model_copy(update={"retention": [rule], "log_sources": [], "datasets": []})
    vault = opened(retention_settings, manifest, clock)
    subjects = [person(vault, f"p{i}@example.se", categories=("contact", "access_log"))
                for i in range(12)]  # fmt: skip
    clock.set(datetime(2026, 5, 30, tzinfo=UTC))
    fresh = person(vault, "fresh@example.se", categories=("access_log",))
    script = tmp_path / "sweep.py"
    script.write_text(KILL_SCRIPT)
    policy = Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml"
    url = retention_settings.resolved_database_url
    proc = subprocess.run(
        [sys.executable, str(script), str(policy), str(retention_settings.home), url],
        capture_output=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = sum(len(vault.records(APP, "account", s, "access_log")) for s in subjects)
    assert left == 12 - 6  # two batches of three committed, the third rolled back

    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    report = run(manifest, vault, clock)

    assert report.done == 6
    assert all(vault.records(APP, "account", s, "access_log") == [] for s in subjects)
    assert all(len(vault.records(APP, "account", s, "contact")) == 1 for s in subjects)
    assert len(vault.records(APP, "account", fresh, "access_log")) == 1
    deleted = [e for e in vault.audit.entries() if e.action == "retention.delete"]
    assert sum(int(e.detail["records"]) for e in deleted) == 12  # type: ignore[arg-type]
    assert vault.audit.verify().ok
    vault.engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "committed"),
    [("erase.ledger_appended:3", 6), ("erase.rows_deleted:3", 6), ("erase.committed:3", 9)],
)
def test_kill_9_at_each_step_of_a_batch_then_rerun(
    retention_settings: Settings,
    loggamera: Manifest,
    clock: FixedClock,
    tmp_path: Path,
    point: str,
    committed: int,
) -> None:
    """SIGKILL in the third batch after its ledger entry, after its DELETE and audit events
    (both before the commit) and after its commit: whole batches are done or not, the rerun
    deletes exactly the rest, the ledger replays without deleting anything else."""
    rule = RetentionRule(
        id="old-logs", categories=["access_log"], duration=Duration.parse("30d"),
        anchor=Anchor.collected,
    )  # fmt: skip
    manifest = loggamera.model_copy(update={"retention": [rule], "log_sources": [], "datasets": []})
    vault = opened(retention_settings, manifest, clock)
    subjects = [person(vault, f"p{i}@example.se", categories=("contact", "access_log"))
                for i in range(12)]  # fmt: skip
    clock.set(datetime(2026, 5, 30, tzinfo=UTC))
    fresh = person(vault, "fresh@example.se", categories=("access_log",))
    script = tmp_path / "sweep.py"
    script.write_text(KILL_SCRIPT)
    policy = Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml"
    url = retention_settings.resolved_database_url
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "INTEGRITET_FAILPOINT": point}
    proc = subprocess.run(
        [sys.executable, str(script), str(policy), str(retention_settings.home), url],
        capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = sum(len(vault.records(APP, "account", s, "access_log")) for s in subjects)
    assert left == 12 - committed

    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    report = run(manifest, vault, clock)

    assert report.done == 12 - committed
    assert all(vault.records(APP, "account", s, "access_log") == [] for s in subjects)
    assert all(len(vault.records(APP, "account", s, "contact")) == 1 for s in subjects)
    assert len(vault.records(APP, "account", fresh, "access_log")) == 1
    for action in ("retention.delete", "vault.delete_records"):
        events = [e for e in vault.audit.entries() if e.action == action]
        assert sum(int(e.detail["records"]) for e in events) == 12  # type: ignore[arg-type]
    assert vault.replay_erasures(Actor.system("ops")).erased_records == 0
    assert len(vault.records(APP, "account", fresh, "access_log")) == 1
    assert vault.audit.verify().ok
    vault.engine.dispose()


# --------------------------------------------------------------------------- holds property

durations = st.builds(
    lambda n, u: Duration.parse(f"{n}{u}"),
    st.integers(min_value=0, max_value=10),
    st.sampled_from(["d", "m", "y"]),
)
anchors = st.sampled_from(
    [Anchor.collected, Anchor.fiscal_year_end, Anchor.last_login, Anchor.contract_end]
)
times = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@given(
    rule_duration=durations,
    rule_anchor=anchors,
    holds=st.lists(st.tuples(durations, anchors), max_size=3),
    created=times,
    events=st.dictionaries(st.sampled_from(["last_login", "contract_end"]), times),
    now=times,
)
@settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_a_held_record_is_never_due_before_its_hold_ends(
    loggamera: Manifest,
    rule_duration: Duration,
    rule_anchor: Anchor,
    holds: list[tuple[Duration, Anchor]],
    created: datetime,
    events: dict[str, datetime],
    now: datetime,
) -> None:
    legal = [
        LegalHold(id=f"h{i}", categories=["sales"], duration=d, anchor=a, law="x",
                  basis=Text(sv="x", en="x"))
        for i, (d, a) in enumerate(holds)
    ]  # fmt: skip
    rule = RetentionRule(
        id="r", categories=["sales"], duration=rule_duration, anchor=rule_anchor,
        holds=[h.id for h in legal][:1],
    )  # fmt: skip
    manifest = loggamera.model_copy(update={"legal_holds": legal, "retention": [rule]})
    decision = rules.decide(manifest, rule, "sales", created, events, now)
    for hold in legal:
        start = rules.anchor_time(hold.anchor, None, created, events)
        if decision.verdict == rules.Verdict.due:
            assert start is not None and hold.duration.after(start) <= now
    if decision.verdict != rules.Verdict.keep:
        assert decision.due_at is not None and decision.due_at <= now


# --------------------------------------------------------------------------- warnings


class _Collect:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Collect, int]]:
    handler = _Collect()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class SmtpSender:
    """The :class:`MailSender` shape over smtplib (what ``integritet.mail.Mailer`` provides)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def send(self, to: str, subject: str, text: str, html: str | None = None, *,
             unsubscribe_url: str | None = None) -> str:  # fmt: skip
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "retention@loggamera.example", to, subject
        msg.set_content(text)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.send_message(msg)
        return "sent"


def test_warning_sent_once_before_deletion(
    vault: Vault, loggamera: Manifest, clock: FixedClock, smtp: tuple[_Collect, int]
) -> None:
    handler, port = smtp
    sid = person(vault, "warn@example.se", last_login=clock.now())
    mailer = SmtpSender(port)
    clock.set(datetime(2029, 1, 1, tzinfo=UTC))  # 14 days before three years pass

    first = run(loggamera, vault, clock, mailer=mailer)
    clock.advance(timedelta(days=1))
    second = run(loggamera, vault, clock, mailer=mailer)

    assert [w.sent for w in first.warnings if w.rule == "three-years-after-login"] == [1]
    assert sum(w.sent for w in second.warnings) == 0
    assert len(handler.messages) == 1
    body = handler.messages[0].decode()
    assert "raderas om 14 dagar" in body and "deleted in 14 days" in body
    assert "warn@example.se" in body and vault.exists(sid)

    vault.record_event(APP, sid, "last_login", datetime(2026, 1, 10, tzinfo=UTC))
    clock.set(datetime(2029, 1, 5, tzinfo=UTC))  # a new cycle (new anchor): warned again
    run(loggamera, vault, clock, mailer=mailer)
    assert len(handler.messages) == 2


def test_schedule_daily_runs_once_per_day_and_stops() -> None:
    clock = FixedClock(datetime(2026, 1, 15, 2, 59, tzinfo=UTC))
    ran: list[datetime] = []
    stop = threading.Event()
    done = threading.Event()

    def job() -> None:
        ran.append(clock.now())
        done.set()

    thread = schedule_daily(job, stop, at="03:00", clock=clock, poll_seconds=0.01)
    clock.set(datetime(2026, 1, 15, 3, 0, 30, tzinfo=UTC))
    assert done.wait(5)
    stop.wait(0.1)
    assert len(ran) == 1
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


# --------------------------------------------------------------------------- emptied subjects


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    ["retention.batch_committed:2", "erase.committed:2", "erase.rows_deleted:2"],
)
def test_kill_9_after_a_batch_emptied_subjects_then_rerun_erases_them(
    retention_settings: Settings,
    loggamera: Manifest,
    clock: FixedClock,
    tmp_path: Path,
    point: str,
) -> None:
    """Issue #6: SIGKILL right after a batch's commit (before, the emptied subjects were
    erased after it, in other transactions) or inside it. Whatever the kill left, after a
    rerun every subject whose last record the sweep deleted is erased: subject row,
    identities, key gone, ledger entry; a subject with no records yet is left alone;
    each subject has exactly one ``vault.erase`` event; the audit chain verifies."""
    from sqlalchemy import func, select

    from integritet.vault.erasure import read_ledger
    from integritet.vault.tables import ErasureRow, IdentityRow, KeyRow, SubjectRow

    rule = RetentionRule(
        id="old-logs", categories=["access_log"], duration=Duration.parse("30d"),
        anchor=Anchor.collected,
    )  # fmt: skip
    manifest = loggamera.model_copy(update={"retention": [rule], "log_sources": [], "datasets": []})
    vault = opened(retention_settings, manifest, clock)
    emptied = [person(vault, f"e{i}@example.se", categories=("access_log",)) for i in range(9)]
    kept = [person(vault, f"k{i}@example.se", categories=("contact", "access_log"))
            for i in range(3)]  # fmt: skip
    clock.set(datetime(2026, 5, 30, tzinfo=UTC))
    newcomer = vault.create_subject(APP, "account", {"email": "new@example.se"})  # no records
    script = tmp_path / "sweep.py"
    script.write_text(KILL_SCRIPT)
    policy = Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml"
    url = retention_settings.resolved_database_url
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "INTEGRITET_FAILPOINT": point}
    proc = subprocess.run(
        [sys.executable, str(script), str(policy), str(retention_settings.home), url],
        capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    run(manifest, vault, clock)

    with vault.tx() as s:
        for sid in emptied:
            assert s.get(SubjectRow, sid) is None
            assert s.scalar(select(func.count()).where(KeyRow.subject_id == sid)) == 0
            assert s.scalar(select(func.count()).where(IdentityRow.subject_id == sid)) == 0
            assert vault.was_erased(s, sid)
        erased_rows = s.scalars(
            select(ErasureRow.subject_id).where(ErasureRow.categories.is_(None))
        )
        assert set(erased_rows) == set(emptied)
    assert not any(vault.exists(sid) for sid in emptied)
    assert all(vault.exists(sid) for sid in [*kept, newcomer])
    assert all(len(vault.records(APP, "account", s, "contact")) == 1 for s in kept)
    assert all(vault.records(APP, "account", s, "access_log") == [] for s in kept)
    ledger = {e.subject_id for e in read_ledger(vault.ledger_path) if e.categories is None}
    assert set(emptied) <= ledger and newcomer not in ledger
    erase_events = [e for e in vault.audit.entries() if e.action == "vault.erase"]
    assert sorted(str(e.subject) for e in erase_events) == sorted(emptied)
    assert vault.audit.verify().ok
    replay = vault.replay_erasures(Actor.system("ops"))
    assert replay.erased_subjects == 0 and replay.erased_records == 0
    assert all(vault.exists(sid) for sid in [*kept, newcomer])
    vault.engine.dispose()
