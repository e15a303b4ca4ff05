"""Storage locations (integritet.residency): the customer's choice (J14) and pinned writes (V8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.errors import AccessDenied, NotFound, ResidencyError
from integritet.manifest import Manifest, load_manifest
from integritet.residency import NodeSettings, Residency, assert_location_allowed
from integritet.settings import Settings
from integritet.vault import NewRecord, Vault, open_vault
from integritet.vault.importer import Importer

ROOT = Path(__file__).resolve().parent.parent
LOOP = ROOT / "examples" / "loop-backup" / "policy.yaml"
APP = Actor.system("app")


@pytest.fixture
def loop() -> Manifest:
    return load_manifest(LOOP)


@pytest.fixture
def vault(
    migrated_database_url: str, tmp_path: Path, clock: FixedClock, loop: Manifest
) -> Iterator[Vault]:
    settings = Settings(home=tmp_path / "home", database_url=migrated_database_url)
    v = open_vault(settings, loop, clock, notify=lambda _m: None)
    yield v
    v.close()


def _customer_with_person(vault: Vault) -> tuple[str, str]:
    customer = vault.create_customer(APP, "Kund AB", "556000-0001")
    sid = vault.create_subject(APP, "service", {"email": "kim@kund.example"}, customer=customer)
    return customer, sid


def _content_fields(manifest: Manifest) -> dict[str, str]:
    spec = manifest.category("content")
    return {spec.fields[0].id: "rapport.docx"}


def test_the_customer_chooses_among_the_declared_locations(
    vault: Vault, loop: Manifest, clock: FixedClock
) -> None:
    residency = Residency(vault, loop, clock, here="")
    customer, _sid = _customer_with_person(vault)
    assert residency.location_for(customer).id == "aws-frankfurt"  # the default
    chosen = residency.choose_location(APP, customer, "gcp-finland")
    assert (chosen.provider, chosen.country) == ("Google Cloud Platform", "FI")
    assert residency.location_for(customer).id == "gcp-finland"
    with pytest.raises(ResidencyError, match="not one of the offered"):
        residency.choose_location(APP, customer, "azure-us-east")
    with pytest.raises(AccessDenied, match="only the customer itself"):
        other = Actor(id="eve", kind="customer", roles=("customer_admin",), customer="other")
        residency.choose_location(other, customer, "equinix-london")
    with pytest.raises(NotFound):
        residency.choose_location(APP, "no-such-customer", "gcp-finland")
    assert residency.chosen(customer) == "gcp-finland"
    events = [(e.action, e.outcome) for e in vault.audit.entries() if e.customer == customer]
    assert ("residency.choose", "done") in events and ("residency.choose", "denied") in events


def test_no_choice_when_the_manifest_offers_none(
    vault: Vault, loop: Manifest, clock: FixedClock
) -> None:
    fixed = loop.model_copy(
        update={"storage": loop.storage.model_copy(update={"customer_choice": False})}
    )
    customer, _sid = _customer_with_person(vault)
    with pytest.raises(ResidencyError, match="offers no choice"):
        Residency(vault, fixed, clock, here="").choose_location(APP, customer, "gcp-finland")


def test_writes_go_only_to_the_customers_location(
    vault: Vault, loop: Manifest, clock: FixedClock
) -> None:
    customer, sid = _customer_with_person(vault)
    Residency(vault, loop, clock, here="").choose_location(APP, customer, "gcp-finland")
    fields = _content_fields(loop)
    in_frankfurt = Residency(vault, loop, clock, here="aws-frankfurt")
    with pytest.raises(ResidencyError, match="chose 'gcp-finland'"):
        in_frankfurt.put_record(APP, "service", sid, "content", fields, "customer")
    assert vault.records(APP, "service", sid, "content") == []
    denied = [e for e in vault.audit.entries() if e.action == "residency.write"]
    assert denied[0].outcome == "denied" and denied[0].detail["location"] == "aws-frankfurt"
    in_finland = Residency(vault, loop, clock, here="gcp-finland")
    rid = in_finland.put_record(APP, "service", sid, "content", fields, "customer")
    unset = Residency(vault, loop, clock, here="")  # no node location: the customer's
    unset.put_record(APP, "service", sid, "content", fields, "customer")
    stored = vault.records(APP, "service", sid, "content")
    assert rid in [r.id for r in stored] and len(stored) == 2


def test_pinned_storage_refuses_undeclared_locations(loop: Manifest) -> None:
    assert assert_location_allowed(loop, "equinix-london") is not None
    with pytest.raises(ResidencyError, match="'us-east' is not declared"):
        assert_location_allowed(loop, "us-east")
    unpinned = loop.model_copy(
        update={"storage": loop.storage.model_copy(update={"pinned": False})}
    )
    assert assert_location_allowed(unpinned, "us-east") is None
    locations = [
        loop.storage.locations[0].model_copy(update={"categories": ["content"]}),
        *loop.storage.locations[1:],
    ]
    narrow = loop.model_copy(
        update={"storage": loop.storage.model_copy(update={"locations": locations})}
    )
    with pytest.raises(ResidencyError, match="does not hold category 'account'"):
        assert_location_allowed(narrow, "aws-frankfurt", "account")


def test_the_node_location_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRITET_LOCATION", "gcp-finland")
    assert NodeSettings().location == "gcp-finland"
    monkeypatch.delenv("INTEGRITET_LOCATION")
    assert NodeSettings().location is None


def test_cli_customers_location(
    run_cli: Callable[..., Any],
    home: Path,
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    loop: Manifest,
    clock: FixedClock,
) -> None:
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", migrated_database_url)
    vault = open_vault(Settings(home=home, database_url=migrated_database_url), loop, clock)
    customer, _sid = _customer_with_person(vault)
    vault.close()
    shown = run_cli("customers", "location", customer, "-p", str(LOOP))
    assert shown.exit_code == 0 and "aws-frankfurt (Amazon Web Services" in shown.stdout
    chosen = run_cli("customers", "location", "556000-0001", "gcp-finland", "-p", str(LOOP))
    assert chosen.exit_code == 0, chosen.output
    assert f"{customer}: gcp-finland (Google Cloud Platform, Hamina" in chosen.stdout
    refused = run_cli("customers", "location", customer, "mars-base", "-p", str(LOOP))
    assert refused.exit_code == 3 and "not one of the offered" in refused.stderr
    assert "Traceback" not in refused.output


# ---------------------------------------------------------------- batch and import paths


def test_put_records_checks_the_location_once_per_batch(
    vault: Vault, loop: Manifest, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer, sid = _customer_with_person(vault)
    other = vault.create_subject(APP, "service", {"email": "eli@fri.example"})
    Residency(vault, loop, clock, here="").choose_location(APP, customer, "gcp-finland")
    fields = _content_fields(loop)
    items = [
        NewRecord(other, "content", fields, "customer"),
        NewRecord(sid, "content", fields, "customer"),
        NewRecord(sid, "content", fields, "customer"),
    ]
    monkeypatch.setenv("INTEGRITET_LOCATION", "aws-frankfurt")
    with pytest.raises(ResidencyError, match="chose 'gcp-finland'"):
        vault.put_records(APP, "service", items)
    assert vault.records(APP, "service", sid, "content") == []
    assert vault.records(APP, "service", other, "content") == []  # all or nothing
    denied = [e for e in vault.audit.entries() if e.action == "residency.write"]
    assert len(denied) == 1 and denied[0].outcome == "denied"
    assert denied[0].detail["location"] == "aws-frankfurt" and denied[0].detail["refused"] == 2
    monkeypatch.setenv("INTEGRITET_LOCATION", "mars-base")
    with pytest.raises(ResidencyError, match="'mars-base' is not declared"):
        vault.put_records(APP, "service", items[:1])
    monkeypatch.setenv("INTEGRITET_LOCATION", "gcp-finland")
    ids = vault.put_records(APP, "service", items)
    assert len(ids) == 3 and len(vault.records(APP, "service", sid, "content")) == 2
    monkeypatch.delenv("INTEGRITET_LOCATION")  # unset: each customer's own location
    assert len(vault.put_records(APP, "service", items)) == 3


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_refuses_rows_of_customers_that_chose_elsewhere(
    vault: Vault, loop: Manifest, clock: FixedClock, tmp_path: Path
) -> None:
    customer, _sid = _customer_with_person(vault)
    Residency(vault, loop, clock, here="").choose_location(APP, customer, "gcp-finland")
    path = _write_csv(
        tmp_path / "people.csv",
        [
            {"email": "a@fri.example", "account.first_name": "Ada"},
            {
                "email": "b@kund.example",
                "content.files": "x.docx",
                "customer_org_number": "556000-0001",
            },
            {"email": "c@ny.example", "account.first_name": "Cy", "customer": "Ny AB"},
        ],
    )
    result = Importer(vault, APP, here="aws-frankfurt").run(path)
    assert (result.imported, result.skipped) == (2, 0)
    assert [e.row for e in result.errors] == [3]
    assert "chose 'gcp-finland'" in result.errors[0].message
    assert "b@kund.example" not in result.errors[0].message
    assert vault.find_subject(APP, "service", "email", "b@kund.example") is None
    assert vault.find_subject(APP, "service", "email", "a@fri.example") is not None
    denied = [e for e in vault.audit.entries() if e.action == "residency.write"]
    assert len(denied) == 1 and denied[0].detail["refused"] == 1
    # an undeclared node location refuses every row; nothing is half-written
    again = Importer(vault, APP, here="mars-base").run(
        _write_csv(tmp_path / "more.csv", [{"email": "d@fri.example", "account.first_name": "Di"}])
    )
    assert again.imported == 0 and [e.row for e in again.errors] == [2]
    assert "not declared" in again.errors[0].message
    assert vault.find_subject(APP, "service", "email", "d@fri.example") is None
    # on the chosen location the refused row goes in
    done = Importer(vault, APP, here="gcp-finland").run(path)
    assert (done.imported, done.skipped, done.errors) == (1, 2, [])


def test_import_row_checks_the_location(vault: Vault, loop: Manifest, clock: FixedClock) -> None:
    importer = Importer(vault, APP, here="mars-base")
    with pytest.raises(ResidencyError, match="not declared"):
        importer.import_row({"email": "e@fri.example", "account.first_name": "Eva"})
    assert vault.find_subject(APP, "service", "email", "e@fri.example") is None
    assert Importer(vault, APP, here="aws-frankfurt").import_row(
        {"email": "e@fri.example", "account.first_name": "Eva"}
    )


def test_cli_import_reports_refused_rows(
    run_cli: Callable[..., Any],
    home: Path,
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("INTEGRITET_LOCATION", "mars-base")
    path = _write_csv(
        tmp_path / "p.csv",
        [{"email": "f@fri.example", "account.first_name": "Fia"}],
    )
    refused = run_cli("subjects", "import", "-p", str(LOOP), str(path))
    assert refused.exit_code == 1 and "imported 0, skipped 0" in refused.stdout
    assert "row 2: location 'mars-base' is not declared" in refused.stderr
    assert "f@fri.example" not in refused.output and "Traceback" not in refused.output
    monkeypatch.setenv("INTEGRITET_LOCATION", "equinix-london")
    done = run_cli("subjects", "import", "-p", str(LOOP), str(path))
    assert done.exit_code == 0 and "imported 1, skipped 0" in done.stdout
