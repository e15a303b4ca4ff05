"""Policy versions: publishing a manifest, re-consent after material changes, notices by email.

``publish`` stores each version with its rendered texts (sv/en, HTML) so the
text in force at any time can be shown later (V5), and uses ``diff`` to decide
materiality. A material change opens re-consent for the affected consent
purposes (C7) and queues a notice to every affected person (P12); a
non-material change is published with its date (L12).

The notice queue is at-most-once: a notice is marked ``sending`` (committed)
before the SMTP conversation and ``sent`` after it. A run that crashes in
between leaves the notice ``sending``; a resumed run never sends it again but
reports it as ``uncertain`` for staff to check, so nobody gets a second email.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from integritet.clock import Clock, SystemClock, utc
from integritet.consent.ledger import ConsentLedger
from integritet.db import Base, session_factory
from integritet.errors import ConsentError
from integritet.manifest.model import Manifest


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    effective: Mapped[str] = mapped_column(String(10))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    manifest_json: Mapped[str] = mapped_column(Text)
    html_sv: Mapped[str] = mapped_column(Text)
    html_en: Mapped[str] = mapped_column(Text)
    material: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)


class PolicyNotice(Base):
    """One email to one person about one material change (the resumable send queue)."""

    __tablename__ = "policy_notices"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed | skipped
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str | None] = mapped_column(String(255))


@dataclass
class PublishResult:
    version: str
    material: bool
    already_published: bool
    reasons: list[str] = field(default_factory=list)
    reconsent_purposes: list[str] = field(default_factory=list)
    notices_queued: int = 0


@dataclass
class NoticeRun:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    uncertain: int = 0


Send = Callable[[str, str], str]  # (subject_id, version) -> message id
Affected = Callable[[list[str], list[str]], Iterable[str]]  # (categories, consent purposes)


def manifest_digest(manifest: Manifest) -> str:
    return hashlib.sha256(manifest.model_dump_json().encode()).hexdigest()


class PolicyPublisher:
    """Stores policy versions and drives re-consent and notices."""

    def __init__(self, engine: Engine, ledger: ConsentLedger, clock: Clock | None = None) -> None:
        self.engine = engine
        self.ledger = ledger
        self.clock = clock or SystemClock()
        self._sessions = session_factory(engine)

    def latest(self) -> PolicyVersion | None:
        with self._sessions() as s:
            return s.scalars(select(PolicyVersion).order_by(PolicyVersion.seq.desc())).first()

    def versions(self) -> list[PolicyVersion]:
        with self._sessions() as s:
            return list(s.scalars(select(PolicyVersion).order_by(PolicyVersion.seq)))

    def version_in_force(self, at: datetime) -> PolicyVersion | None:
        """The version published most recently at or before ``at`` (V5)."""
        found = None
        for v in self.versions():
            if utc(v.published_at) <= utc(at):
                found = v
        return found

    def publish(self, manifest: Manifest, affected_subjects: Affected) -> PublishResult:
        """Publish ``manifest`` as a new version.

        ``affected_subjects(categories, consent_purposes)`` yields the subjects
        holding data in any of ``categories`` or a consent to one of the
        purposes; they get a notice when the change is material.
        """
        from integritet.manifest.diff import diff
        from integritet.manifest.render import render

        version = manifest.policy.version
        digest = manifest_digest(manifest)
        previous = self.latest()
        if previous is not None and previous.version == version:
            if previous.manifest_sha256 != digest:
                raise ConsentError(
                    f"policy version {version} is already published with other content; "
                    "raise policy.version in the manifest"
                )
            return PublishResult(version, previous.material, already_published=True)
        material, reasons, purposes, categories = False, ["first published version"], [], []
        if previous is not None:
            old = Manifest.model_validate_json(previous.manifest_json)
            change = diff(old, manifest)
            material = change.material
            reasons = [str(c) for c in change.changes if getattr(c, "material", False)] or [
                "no material change"
            ]
            purposes = sorted(change.affected_consent_purposes)
            categories = sorted(change.affected_categories)
        now = self.clock.now()
        with self._sessions() as s, s.begin():
            s.add(
                PolicyVersion(
                    version=version,
                    published_at=now,
                    effective=manifest.policy.effective.isoformat(),
                    manifest_sha256=digest,
                    manifest_json=manifest.model_dump_json(),
                    html_sv=render(manifest, "sv", "html"),
                    html_en=render(manifest, "en", "html"),
                    material=material,
                    summary="\n".join(reasons),
                )
            )
        result = PublishResult(version, material, False, reasons)
        if material:
            result.reconsent_purposes = purposes
            self.ledger.require_reconsent(purposes, version)
            result.notices_queued = self._queue(version, affected_subjects(categories, purposes))
        return result

    def _queue(self, version: str, subjects: Iterable[str]) -> int:
        count = 0
        now = self.clock.now()
        with self._sessions() as s, s.begin():
            for subject in set(subjects):
                s.add(
                    PolicyNotice(
                        version=version, subject_id=subject, status="pending", updated_at=now
                    )
                )
                count += 1
        return count

    def send_notices(
        self,
        send: Send,
        *,
        version: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> NoticeRun:
        """Send every pending notice once. Resumable; never sends a notice twice."""
        run = NoticeRun()
        with self._sessions() as s:
            query = select(PolicyNotice.version, PolicyNotice.subject_id, PolicyNotice.status)
            if version is not None:
                query = query.where(PolicyNotice.version == version)
            todo = [(v, subj, st) for v, subj, st in s.execute(query)]
        for v, subject, status in todo:
            if status == "sending":
                run.uncertain += 1
                continue
            if status != "pending":
                continue
            self._mark(v, subject, "sending")
            try:
                message_id = send(subject, v)
            except ConsentError:
                self._mark(v, subject, "skipped")
                run.skipped += 1
            except Exception:  # the mail server refused: safe to retry later
                self._mark(v, subject, "pending")
                run.failed += 1
            else:
                self._mark(v, subject, "sent", message_id)
                run.sent += 1
            if progress is not None:
                progress(1)
        return run

    def _mark(self, version: str, subject: str, status: str, message_id: str | None = None) -> None:
        with self._sessions() as s, s.begin():
            notice = s.get(PolicyNotice, (version, subject))
            if notice is None:
                raise ConsentError("notice vanished from the queue")
            notice.status = status
            notice.updated_at = self.clock.now()
            if message_id is not None:
                notice.message_id = message_id

    def notice_counts(self, version: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._sessions() as s:
            for status in s.scalars(
                select(PolicyNotice.status).where(PolicyNotice.version == version)
            ):
                counts[status] = counts.get(status, 0) + 1
        return counts
