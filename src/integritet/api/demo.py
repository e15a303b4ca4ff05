"""Realistic demo data for ``integritet demo``: a seeded generator, no downloads.

Swedish names, streets, postcodes and mobile numbers come from small built-in lists and a
seeded :class:`random.Random`, so every demo home holds the same people. Seeding is
idempotent: a second run finds the demo users and reuses everything (the credentials are
kept in ``demo.json``, mode 0600, in ``INTEGRITET_HOME``).

The demo runs the example manifest unchanged, so the published policy, the register and
what the demo enforces are the same document. It signs in one user per demo role the
example declares (``dpo``, ``support``, ``customer_admin`` as ``kundadmin``, ``technician``
as ``tekniker``), enrols TOTP for every role that needs MFA, and registers machines with a
day of readings when the example has a telemetry section.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from integritet.access import Actor
from integritet.consent import ConsentSource, ConsentState, Evidence
from integritet.identity import mfa_required
from integritet.mail import Mailer
from integritet.manifest import Manifest
from integritet.manifest.model import Scope, StaffRole, Text
from integritet.services import Services
from integritet.settings import Settings

FIRST = (
    "Anna Eva Maria Karin Sara Lena Emma Kerstin Ingrid Linnea Elin Ida Johanna Sofia Maja "
    "Erik Lars Karl Anders Johan Per Nils Mikael Jan Hans Oskar Lucas Gustav Axel Fredrik"
).split()
LAST = (
    "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
    "Pettersson Jonsson Jansson Hansson Bengtsson Lindberg Lindström Lindqvist Berglund "
    "Axelsson Bergström Lundberg Lundgren Mattsson Holm Sandberg Forsberg Sjöberg Wallin Engström"
).split()
STREETS = (
    "Storgatan Kungsgatan Drottninggatan Vasagatan Järnvägsgatan Skolgatan Kyrkogatan "
    "Trädgårdsgatan Östra Vägen Björkvägen Tallvägen Ekvägen Parkvägen Sjövägen Ringvägen"
).split()
CITIES = (
    ("211 19", "Malmö"),
    ("222 21", "Lund"),
    ("252 25", "Helsingborg"),
    ("411 05", "Göteborg"),
    ("111 20", "Stockholm"),
    ("753 20", "Uppsala"),
    ("582 24", "Linköping"),
    ("702 10", "Örebro"),
)
CUSTOMERS = (
    ("Brf Solrosen", "769600-1234"),
    ("Skånska Fastighetsservice AB", "556677-8899"),
    ("Lunds Vattenverk AB", "556123-4567"),
    ("Hotell Kullaberg AB", "556987-6543"),
)
DEMO_FILE = "demo.json"
PEOPLE = 50


def demo_manifest(manifest: Manifest) -> tuple[Manifest, list[str]]:
    """``manifest`` with ``customer_admin`` and ``technician`` roles added when it lacks them
    (for tests of other examples); returns it and what was added. The demo does not use it:
    the Loggamera example declares both roles itself."""
    have = {r.id for r in manifest.roles}
    contact = [c.id for c in manifest.categories if c.id == "contact"] or [
        manifest.categories[0].id
    ]
    purpose = manifest.purposes[0].id
    extra = [
        StaffRole(
            id="customer_admin",
            name=Text(sv="Kundens administratör", en="Customer administrator"),
            purposes=[purpose],
            categories=contact,
            scope=Scope.own_customer,
            mfa=False,
            can=["read", "read_audit", "manage_requests"],
        ),
        StaffRole(
            id="technician",
            name=Text(sv="Servicetekniker", en="Service technician"),
            purposes=[purpose],
            categories=contact,
            scope=Scope.assigned,
            mfa=False,
            can=["read", "read_telemetry"],
        ),
    ]
    added = [r for r in extra if r.id not in have]
    if not added:
        return manifest, []
    security = manifest.security.model_copy(update={"customer_audit_log": True})
    updated = manifest.model_copy(update={"roles": [*manifest.roles, *added], "security": security})
    return updated, [r.id for r in added]


class MailboxMailer:
    """The demo's mailer: every message is a ``.eml`` file (0600) in ``home/mailbox``.

    Demo only: codes and sign-in links can be read there without an SMTP server. The
    message is the one :class:`~integritet.mail.Mailer` would send, built by it."""

    def __init__(self, folder: Path, settings: Settings | None = None) -> None:
        self.folder = folder
        self._builder = Mailer(settings or Settings(smtp_sender="demo@integritet.invalid"))

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str:
        msg = self._builder.build(to, subject, text, html, unsubscribe_url=unsubscribe_url)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(list(self.folder.glob('*.eml'))) + 1:04d}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(msg))
        return str(msg["Message-ID"])


@dataclass
class Person:
    name: str
    email: str
    phone: str
    address: str


def people(count: int = PEOPLE, seed: int = 2024) -> list[Person]:
    """``count`` fictitious Swedish people (example.se addresses, unused 070-number range)."""
    rng = random.Random(seed)
    out: list[Person] = []
    used: set[str] = set()
    while len(out) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}".lower().translate(str.maketrans("åäö", "aao")) + "@example.se"
        if email in used:
            continue
        used.add(email)
        postcode, city = rng.choice(CITIES)
        out.append(
            Person(
                name=f"{first} {last}",
                email=email,
                phone=f"070-17{rng.randrange(10)} {rng.randrange(10, 100)} "
                f"{rng.randrange(10, 100)}",
                address=f"{rng.choice(STREETS)} {rng.randrange(1, 80)}, {postcode} {city}",
            )
        )
    return out


@dataclass
class DemoData:
    """What the banner prints: credentials, ids and a subject link."""

    passwords: dict[str, str] = field(default_factory=dict)
    totp: dict[str, str] = field(default_factory=dict)  # user -> otpauth:// URI
    token: str = ""
    customers: dict[str, str] = field(default_factory=dict)
    subjects: int = 0
    requests: int = 0
    machines: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoData:
        """Read ``demo.json`` (also the older layout with one ``totp_uri`` for the DPO)."""
        old = data.pop("totp_uri", None)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        found = cls(**known)
        if old and "dpo" not in found.totp:
            found.totp["dpo"] = old
        return found


def load_or_seed(
    services: Services, home: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[DemoData, bool]:
    """The demo data of ``home``: created on the first run, reused after. (data, created)"""
    path = home / DEMO_FILE
    if path.exists():
        return DemoData.from_json(json.loads(path.read_text())), False
    data = seed(services, progress)
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data.to_json(), handle, indent=2)
    return data, True


def seed(services: Services, progress: Callable[[int, int], None] | None = None) -> DemoData:
    """Customers, ~50 people with contact and sales records, consents, events, requests."""
    data = DemoData()
    admin = Actor.system("demo")
    vault = services.vault
    for name, org in CUSTOMERS:
        data.customers[name] = vault.create_customer(admin, name, org)
    customer_ids = list(data.customers.values())
    rng = random.Random(7)
    now = services.clock.now()
    subject_ids: list[str] = []
    crowd = people()
    for i, person in enumerate(crowd):
        sid = _seed_person(services, admin, person, customer_ids[i % len(customer_ids)], rng, now)
        subject_ids.append(sid)
        if progress is not None:
            progress(i + 1, len(crowd))
    data.subjects = len(subject_ids)
    data.requests = _seed_requests(services, subject_ids)
    data.machines = _seed_machines(services, customer_ids)
    _seed_users(services, data, customer_ids)
    return data


def _seed_person(
    services: Services, admin: Actor, person: Person, customer: str, rng: random.Random, now: Any
) -> str:
    vault = services.vault
    identities = {"email": person.email, "phone": person.phone}
    sid = vault.create_subject(admin, "account", identities, customer=customer)
    fields = {"name": person.name, "email": person.email, "phone": person.phone}
    vault.put_record(
        admin, "account", sid, "contact", {**fields, "address": person.address}, "person"
    )
    for _ in range(rng.randrange(0, 3)):
        order = f"ORD-{rng.randrange(10000, 99999)}"
        amount = f"{rng.randrange(500, 25000)} SEK"
        vault.put_record(
            admin, "accounting", sid, "sales", {"order": order, "amount": amount}, "person"
        )
    # last logins spread over four years, so retention has people due (L3)
    vault.record_event(admin, sid, "last_login", now - timedelta(days=rng.randrange(1, 4 * 365)))
    evidence = Evidence(ConsentSource.import_, services.manifest.policy.version)
    for cp in services.manifest.consent_purposes:
        channel = cp.channels[0].value if cp.channels else None
        if channel is None or rng.random() < 0.4:
            continue
        state = ConsentState.given if rng.random() < 0.7 else ConsentState.withdrawn
        services.consent.record(sid, cp.id, channel, state, evidence)
    return sid


def _seed_requests(services: Services, subject_ids: list[str]) -> int:
    reqs = services.requests
    access = reqs.new("access", subject=subject_ids[0])
    reqs.verify(access, "staff:demo", "verified by phone call-back")
    reqs.new(
        "rectification", subject=subject_ids[1], changes={"contact": {"address": "Ny adress 1"}}
    )
    erasure = reqs.new("erasure", subject=subject_ids[2])
    reqs.verify(erasure, "staff:demo", "verified in person")
    objection = reqs.new("objection", subject=subject_ids[3])
    reqs.reject(objection, "staff:demo", "demo: no direct marketing to object to", None)
    return 4


DEMO_USERS = (  # user name, role, a customer's own user?
    ("dpo", "dpo", False),
    ("support", "support", False),
    ("kundadmin", "customer_admin", True),
    ("tekniker", "technician", False),
)


def _seed_users(services: Services, data: DemoData, customer_ids: list[str]) -> None:
    """One user per demo role the manifest declares; TOTP for roles that need MFA."""
    identity, login = services.identity, services.login
    declared = {r.id for r in services.manifest.roles}
    for username, role, customer_side in DEMO_USERS:
        if role not in declared:
            continue
        customer = customer_ids[0] if customer_side else None
        identity.add_user(
            username, role, customer=customer, kind="customer" if customer_side else "staff"
        )
        password = "demo-" + secrets.token_urlsafe(9)
        login.set_password(username, password)
        data.passwords[username] = password
        if mfa_required(services.manifest, role):
            data.totp[username] = login.enrol_totp(username)
    if "tekniker" in data.passwords:
        identity.assign("tekniker", "customer", customer_ids[1])
    scopes = ["read", "write", "manage_consent"]
    if services.manifest.telemetry is not None:
        scopes += ["ingest_telemetry"]
    data.token = identity.create_token("demo-system", scopes)


def _seed_machines(services: Services, customer_ids: list[str]) -> list[str]:
    """Two machines per customer with a day of hourly readings (telemetry examples only)."""
    config = services.manifest.telemetry
    if config is None:
        return []
    admin, telemetry = Actor.system("demo"), services.telemetry
    numeric = [f.name for f in config.fields if f.kind in ("reading", "counter")]
    rng = random.Random(11)
    now = services.clock.now().replace(minute=0, second=0, microsecond=0)
    machines: list[str] = []
    records: list[dict[str, Any]] = []
    for n, customer in enumerate(customer_ids):
        site = telemetry.add_site(admin, customer, f"Anläggning {n + 1}")
        for k in range(2):
            machine = f"demo-{n + 1:02d}{k + 1}"
            telemetry.add_machine(admin, machine, customer, site=site, model="Demo-logger")
            machines.append(machine)
            for hour in range(24):
                at = (now - timedelta(hours=hour)).isoformat()
                values = {name: round(rng.uniform(15, 25), 1) for name in numeric}
                records.append({"machine": machine, "at": at, **values})
    if numeric:
        telemetry.ingest(admin, records)
    return machines
