"""Where data is stored: the declared locations (V8) and each customer's choice (J14).

The manifest's ``storage.locations`` names every place personal data may be written.
``storage.pinned`` (V8) makes that list binding: a write aimed anywhere else is refused.
``storage.customer_choice`` (J14) lets each customer pick one of those locations; from then
on that customer's data may be written only there.

A process says where it runs with ``INTEGRITET_LOCATION`` (a location id; unset: the
customer's location, else the manifest's default). :meth:`Residency.put_record` checks the
target location and then writes through :meth:`Vault.put_record`::

    residency = Residency(vault, manifest)
    residency.choose_location(actor, customer_id, "gcp-finland")
    residency.put_record(actor, "service", subject_id, "content", fields, "customer")

The batch paths check too, once per batch and not per record: ``Vault.put_records`` calls
:func:`check_batch` inside its transaction (the customers come from the subjects the batch
loads anyway; one query for their choices, only when ``customer_choice`` is on) and
:func:`audited_batch` around it (a refused batch writes nothing and is audited as one
``residency.write`` / ``denied`` event with the count), and ``integritet subjects import`` calls
:meth:`Residency.refusals` per batch of rows (refused rows are reported with their row
number, the others are imported). ``integritet serve`` refuses to start when
``INTEGRITET_LOCATION`` names a location a pinned manifest does not declare
(:func:`check_node`).

Trade-off: the single-record check sits beside the vault, not inside its write path (which
stays as fast as it is). Writes that call ``Vault.put_record`` directly are not
location-checked; an application that stores data in more than one location writes
through ``Residency``.
Moving data that is already stored when a customer changes its choice is the operator's
job; the choice governs every write after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from integritet.access import Actor
from integritet.audit import AuditEvent, Outcome
from integritet.audit.chain import DetailValue
from integritet.clock import Clock, SystemClock, utc
from integritet.db import Base
from integritet.errors import AccessDenied, ResidencyError
from integritet.manifest import Manifest
from integritet.manifest.model import StorageLocation

if TYPE_CHECKING:
    from integritet.vault import NewRecord, Vault
    from integritet.vault.core import SubjectRef

CHUNK = 500  # ids per IN (...) query


class CustomerLocationRow(Base):
    """The storage location a customer chose (J14)."""

    __tablename__ = "customer_locations"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location: Mapped[str] = mapped_column(String(64))
    chosen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    chosen_by: Mapped[str] = mapped_column(String(200))


class NodeSettings(BaseSettings):
    """``INTEGRITET_LOCATION``: the storage location id this process writes to."""

    model_config = SettingsConfigDict(env_prefix="INTEGRITET_", extra="ignore")

    location: str | None = None


def default_location(manifest: Manifest) -> StorageLocation:
    """The location marked ``default``, else the first declared one."""
    locations = manifest.storage.locations
    return next((loc for loc in locations if loc.default), locations[0])


def assert_location_allowed(
    manifest: Manifest, location_id: str, category: str | None = None
) -> StorageLocation | None:
    """The declared location ``location_id``, or :class:`ResidencyError` when data of
    ``category`` may not be written there. Unpinned storage allows undeclared places (None)."""
    storage = manifest.storage
    found = next((loc for loc in storage.locations if loc.id == location_id), None)
    if found is None:
        if not storage.pinned:
            return None
        declared = ", ".join(loc.id for loc in storage.locations)
        raise ResidencyError(
            f"location {location_id!r} is not declared; data stays in: {declared} (V8)"
        )
    if category is not None and found.categories and category not in found.categories:
        raise ResidencyError(f"location {found.id!r} does not hold category {category!r}")
    return found


def check_node(manifest: Manifest, here: str | None) -> None:
    """:class:`ResidencyError` when this process's ``INTEGRITET_LOCATION`` (``here``) is a
    place no write may go (undeclared in pinned storage): checked when a server starts."""
    if here:
        assert_location_allowed(manifest, here)


class BatchRefused(ResidencyError):
    """A batch write refused by :func:`check_batch`; :func:`audited_batch` audits it."""

    def __init__(self, message: str, location: str, count: int) -> None:
        super().__init__(message)
        self.location = location
        self.count = count


def check_batch(
    vault: Vault, session: Session, items: Sequence[NewRecord], subjects: Mapping[str, SubjectRef]
) -> None:
    """The location check of ``Vault.put_records``, inside its transaction: every distinct
    (customer, category) of the batch once, the customers taken from the subjects the batch
    already loaded and their choices in one query (only with ``customer_choice``).
    :class:`BatchRefused` (with the number of refused records) when any may not be written."""
    residency = Residency(vault, vault.manifest, vault.clock)
    customers = {sid: ref.customer_id for sid, ref in subjects.items()}
    chosen: dict[str, str] = {}
    if residency.by_customer:
        ids = {c for c in customers.values() if c is not None}
        chosen = _chosen_in(session, ids) if ids else {}
    else:
        customers = {}  # the target does not depend on the customer
    writes = [(customers.get(i.subject_id), i.category) for i in items]
    refused = residency.refusals(writes, chosen=chosen)
    if refused:
        count = sum(1 for w in writes if w in refused)
        raise BatchRefused(next(iter(refused.values())), residency.here or "?", count)


@contextmanager
def audited_batch(vault: Vault, actor: Actor, purpose: str) -> Iterator[None]:
    """Around a batch's transaction: a :class:`BatchRefused` raised in it is audited as one
    ``residency.write`` / ``denied`` event with the count, after the rollback."""
    try:
        yield
    except BatchRefused as exc:
        Residency(vault, vault.manifest, vault.clock).audit_refused(
            actor, purpose, exc.reason, exc.count, at=exc.location
        )
        raise


def _chosen_in(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """The location id each customer chose (absent: none), one query per 500."""
    ids = list(customer_ids)
    found: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        query = select(CustomerLocationRow.customer_id, CustomerLocationRow.location)
        query = query.where(CustomerLocationRow.customer_id.in_(ids[start : start + CHUNK]))
        found.update((str(c), str(loc)) for c, loc in session.execute(query))
    return found


class Residency:
    """Customers' location choices and the write-time location check on one vault."""

    def __init__(
        self,
        vault: Vault,
        manifest: Manifest,
        clock: Clock | None = None,
        *,
        here: str | None = None,
    ) -> None:
        self.vault = vault
        self.manifest = manifest
        self.clock = clock or SystemClock()
        self.here = here if here is not None else NodeSettings().location

    # ------------------------------------------------------------------ choice (J14)

    def choose_location(self, actor: Actor, customer_id: str, location_id: str) -> StorageLocation:
        """Record the customer's choice among the declared locations."""
        try:
            if not self.manifest.storage.customer_choice:
                raise ResidencyError("this service offers no choice of storage location")
            if actor.kind == "subject" or (
                actor.kind == "customer" and actor.customer != customer_id
            ):
                raise AccessDenied("only the customer itself or the service may choose")
            self.vault.customer_name(customer_id)  # NotFound for unknown customers
            declared = {loc.id: loc for loc in self.manifest.storage.locations}
            if location_id not in declared:
                raise ResidencyError(
                    f"location {location_id!r} is not one of the offered: {', '.join(declared)}"
                )
        except AccessDenied as exc:
            self._audit(actor, "residency.choose", "denied", customer_id, location_id, exc.reason)
            raise
        with self.vault.tx() as s:
            row = s.get(CustomerLocationRow, customer_id)
            if row is None:
                row = CustomerLocationRow(customer_id=customer_id)
                s.add(row)
            row.location = location_id
            row.chosen_at = utc(self.clock.now())
            row.chosen_by = actor.label
        self._audit(actor, "residency.choose", "done", customer_id, location_id)
        return declared[location_id]

    def chosen(self, customer_id: str) -> str | None:
        """The location id the customer chose, or None."""
        with self.vault.tx() as s:
            row = s.get(CustomerLocationRow, customer_id)
            return row.location if row is not None else None

    def location_for(self, customer_id: str | None) -> StorageLocation:
        """Where this customer's data is stored: its choice, else the default."""
        chosen = self.chosen(customer_id) if customer_id is not None else None
        for loc in self.manifest.storage.locations:
            if loc.id == chosen:
                return loc
        return default_location(self.manifest)

    # ------------------------------------------------------------------ writes (V8)

    def check_write(
        self, customer_id: str | None, category: str, *, at: str | None = None
    ) -> StorageLocation | None:
        """Where a write of ``category`` for ``customer_id`` goes, or :class:`ResidencyError`.

        ``at`` (else ``INTEGRITET_LOCATION``, else the customer's location) is the target.
        """
        chosen = self.chosen(customer_id) if customer_id is not None else None
        return self._check(customer_id, category, chosen, at)

    @property
    def by_customer(self) -> bool:
        """True when a write's target depends on its customer (``customer_choice``)."""
        return self.manifest.storage.customer_choice

    def chosen_many(self, customer_ids: Iterable[str]) -> dict[str, str]:
        """The location id each customer chose (absent: none), one query per 500."""
        with self.vault.tx() as s:
            return _chosen_in(s, customer_ids)

    def refusals(
        self,
        writes: Iterable[tuple[str | None, str | None]],
        *,
        at: str | None = None,
        chosen: dict[str, str] | None = None,
    ) -> dict[tuple[str | None, str | None], str]:
        """Why each refused (customer, category) write may not happen (allowed ones are
        absent): :meth:`check_write` once per distinct pair, all choices in one query
        (``chosen``: the customers' choices when the caller has them already).
        A category of None checks the location alone (identities, subject rows)."""
        pairs = list(dict.fromkeys(writes))
        if chosen is None:
            customers = {c for c, _ in pairs if c is not None}
            chosen = self.chosen_many(customers) if self.by_customer and customers else {}
        refused: dict[tuple[str | None, str | None], str] = {}
        for customer, category in pairs:
            try:
                self._check(customer, category, chosen.get(customer or ""), at)
            except ResidencyError as exc:
                refused[(customer, category)] = exc.reason
        return refused

    def audit_refused(
        self, actor: Actor, purpose: str | None, reason: str, count: int, *, at: str | None = None
    ) -> None:
        """One ``residency.write`` / ``denied`` event for a batch with ``count`` refusals."""
        target = at or self.here or "?"
        self._audit(actor, "residency.write", "denied", None, target, reason, purpose, count)

    def _check(
        self, customer_id: str | None, category: str | None, chosen: str | None, at: str | None
    ) -> StorageLocation | None:
        """The write check of one (customer, category), given the customer's choice."""
        declared = {loc.id for loc in self.manifest.storage.locations}
        own = chosen if chosen in declared else default_location(self.manifest).id
        target = at or self.here or own
        found = assert_location_allowed(self.manifest, target, category)
        if self.by_customer and customer_id is not None:
            if chosen is not None and chosen != target:
                raise ResidencyError(
                    f"customer {customer_id} chose {chosen!r}; this write goes to {target!r} (J14)"
                )
        return found

    def put_record(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        category: str,
        fields: Any,
        source: str,
        *,
        at: str | None = None,
    ) -> str:
        """:meth:`Vault.put_record` after :meth:`check_write`; refusals are audited."""
        customer = self.vault.subject_customer(subject_id)
        try:
            self.check_write(customer, category, at=at)
        except ResidencyError as exc:
            target = at or self.here or "?"
            self._audit(actor, "residency.write", "denied", customer, target, exc.reason, purpose)
            raise
        return self.vault.put_record(actor, purpose, subject_id, category, fields, source)

    def _audit(
        self,
        actor: Actor,
        action: str,
        outcome: Outcome,
        customer: str | None,
        location: str,
        reason: str | None = None,
        purpose: str | None = None,
        refused: int | None = None,
    ) -> None:
        detail: dict[str, DetailValue] = {"location": location[:64]}
        if reason is not None:
            detail["reason"] = reason[:200]
        if refused is not None:
            detail["refused"] = refused
        self.vault.audit.append_now(
            AuditEvent(
                actor=actor.label,
                action=action,
                outcome=outcome,
                purpose=purpose,
                customer=customer,
                detail=detail,
            )
        )
