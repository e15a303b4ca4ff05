"""Crashes after each persisted step (injected and real kill -9), and no plaintext at rest."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.errors import IntegritetError
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault, faults, open_vault
from integritet.vault.importer import Importer

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "loggamera" / "policy.yaml"


def _subject(vault: Vault, system: Actor, email: str) -> str:
    sid = vault.create_subject(system, "account", {"email": email})
    vault.put_record(system, "account", sid, "contact", {"name": "Nils"}, "person")
    vault.put_record(system, "accounting", sid, "sales", {"order": "O1"}, "person")
    return sid


def _whole_or_gone(vault: Vault, system: Actor, sid: str, email: str) -> str:
    """Either the subject is fully there and readable, or fully erased (sales kept)."""
    found = vault.find_subject(system, "account", "email", email)
    if found is not None:
        assert vault.exists(sid)
        assert {r.category for r in vault.records(system, "accounting", sid)} == {
            "contact",
            "sales",
        }
        return "whole"
    assert not vault.exists(sid)
    assert [r.category for r in vault.records(system, "accounting", sid)] == ["sales"]
    return "gone"


@pytest.mark.parametrize(
    ("point", "state"),
    [
        ("erase.ledger_appended", "whole"),
        ("erase.rows_deleted", "whole"),
        ("erase.committed", "gone"),
    ],
)
def test_erasure_crash_at_each_step(point: str, state: str, vault: Vault, system: Actor) -> None:
    sid = _subject(vault, system, "crash@example.se")
    with faults.inject(faults.crash_at(point)), pytest.raises(faults.Crash):
        vault.erase(system, "account", sid)
    assert _whole_or_gone(vault, system, sid, "crash@example.se") == state
    assert vault.audit.verify().ok
    vault.replay_erasures(system)  # the ledger intent completes the erasure
    assert _whole_or_gone(vault, system, sid, "crash@example.se") == "gone"
    assert vault.audit.verify().ok


def test_import_crash_keeps_whole_rows_and_rerun_finishes(
    vault: Vault, system: Actor, tmp_path: Path
) -> None:
    csv = tmp_path / "in.csv"
    lines = ["email,contact.name,sales.order,event.last_login"]
    lines += [f"p{i}@example.se,Person {i},O{i},2024-0{1 + i % 9}-01" for i in range(6)]
    csv.write_text("\n".join(lines) + "\n")
    with faults.inject(faults.crash_at("import.batch_committed", 2)), pytest.raises(faults.Crash):
        Importer(vault, system).run(csv, batch=2)
    result = Importer(vault, system).run(csv, batch=4)
    assert (result.imported, result.skipped, result.errors) == (2, 4, [])
    for i in range(6):
        sid = vault.find_subject(system, "account", "email", f"p{i}@example.se")
        assert sid is not None
        assert len(vault.records(system, "accounting", sid)) == 2
        assert "last_login" in vault.events(sid)
    assert vault.audit.verify().ok


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITET_")}
    env.update({"INTEGRITET_HOME": str(home), **extra})
    return env


def test_kill_9_during_import_and_erasure(
    tmp_path: Path, loggamera: Manifest, clock: FixedClock, system: Actor
) -> None:
    home = tmp_path / "home"
    csv = tmp_path / "in.csv"
    rows = [f"k{i}@example.se,Kim {i},S{i}" for i in range(8)]
    csv.write_text("email,contact.name,sales.order\n" + "\n".join(rows) + "\n")
    cli = [
        sys.executable,
        "-c",
        "from integritet.cli import main; main()",
        "subjects",
        "import",
        "--policy",
        str(POLICY),
        "--batch",
        "3",
    ]
    killed = subprocess.run(
        [*cli, str(csv)],
        env=_env(home, INTEGRITET_FAILPOINT="import.batch_committed:2"),
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    settings = Settings(home=home, database_url=None, kek=None)
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    rerun = Importer(vault, system).run(csv)
    assert (rerun.imported, rerun.skipped, rerun.errors) == (2, 6, [])
    sid = vault.find_subject(system, "account", "email", "k0@example.se")
    assert sid is not None
    vault.close()
    script = (
        "import sys; from pathlib import Path; from integritet.settings import Settings;"
        "from integritet.manifest import load_manifest; from integritet.vault import *;"
        "v = open_vault(Settings(), load_manifest(Path(sys.argv[1])));"
        "v.erase(Actor.system('t'), 'account', sys.argv[2])"
    )
    erase = subprocess.run(
        [sys.executable, "-c", script, str(POLICY), sid],
        env=_env(home, INTEGRITET_FAILPOINT="erase.rows_deleted"),
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert erase.returncode == -signal.SIGKILL
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    assert vault.exists(sid)  # the transaction died with the process: nothing half-erased
    assert len(vault.records(system, "accounting", sid)) == 2
    assert vault.replay_erasures(system).erased_subjects == 1
    assert not vault.exists(sid)
    assert vault.audit.verify().ok
    vault.close()


SECRETS = ["ingrid.plaintext@example.se", "Ingrid Hemligsson", "198112189876", "Storgatan 7"]


def test_no_personal_value_in_database_file_wal_logs_or_errors(
    tmp_path: Path,
    loggamera: Manifest,
    clock: FixedClock,
    system: Actor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(home=tmp_path / "home", database_url=None, kek=None)
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    email, name, pnr, street = SECRETS
    sid = vault.create_subject(system, "account", {"email": email, "personnummer": pnr})
    vault.put_record(
        system,
        "account",
        sid,
        "contact",
        {"name": name, "email": email, "address": street},
        "person",
    )
    messages: list[str] = []
    for attempt in (
        lambda: vault.create_subject(system, "account", {"email": email}),
        lambda: vault.put_record(system, "account", sid, "contact", {name: email}, "person"),
        lambda: vault.records(Actor.staff("x", "support"), "accounting", sid, "sales"),
    ):
        with pytest.raises(IntegritetError) as info:
            attempt()
        messages.append(str(info.value) + repr(info.value))
    other = vault.create_subject(system, "account", {"email": "other@example.se"})
    vault.erase(system, "account", other)
    raw = b"".join(
        p.read_bytes() for p in settings.home.iterdir() if p.name.startswith("integritet.db")
    )
    assert any(p.name.endswith("-wal") for p in settings.home.iterdir())
    text = caplog.text + "".join(messages)
    for secret in [*SECRETS, "8112189876", "ingrid"]:
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw
        assert secret not in text
    assert (settings.home / "erasure-ledger.jsonl").read_text().count(other) == 1
    vault.close()
