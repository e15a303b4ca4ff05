"""The record of processing activities (GDPR Art. 30(1)), generated from the manifest.

One activity per purpose: its legal basis, the categories of data subjects and of personal
data, the recipients, third-country transfers with their mechanism, the retention limits
(rules and legal holds) and the security measures. The register cannot drift from what is
enforced, because both come from the same ``policy.yaml``.
"""

from __future__ import annotations

from typing import Any

from integritet.manifest import Manifest
from integritet.manifest.model import Purpose


def register(manifest: Manifest, lang: str = "en") -> dict[str, Any]:
    """The Art. 30 register as a JSON-ready dict, texts in ``lang`` (sv or en)."""
    c = manifest.controller
    return {
        "controller": {
            "name": c.name,
            "org_number": c.org_number,
            "email": c.email,
            "country": c.country,
            "dpo": c.dpo.model_dump(exclude_none=True) if c.dpo else None,
        },
        "policy_version": manifest.policy.version,
        "activities": [_activity(manifest, p, lang) for p in manifest.purposes],
        "security": _security(manifest),
    }


def _activity(m: Manifest, purpose: Purpose, lang: str) -> dict[str, Any]:
    categories = [m.category(cid) for cid in purpose.categories]
    subject_ids = sorted({s for cat in categories for s in cat.subjects})
    subjects = {s.id: s.name[lang] for s in m.subjects}
    recipients = [r for r in m.recipients if purpose.id in r.purposes]
    return {
        "purpose": purpose.id,
        "name": purpose.name[lang],
        "legal_basis": purpose.legal_basis.value if purpose.legal_basis else None,
        "data_subjects": [subjects.get(s, s) for s in subject_ids],
        "categories": [
            {"id": cat.id, "name": cat.name[lang], "kind": cat.kind.value, "role": cat.role.value}
            for cat in categories
        ],
        "recipients": [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role.value,
                "country": r.country,
                "categories": [x for x in r.categories if x in purpose.categories],
            }
            for r in recipients
        ],
        "transfers": [
            {
                "recipient": r.id,
                "country": r.country,
                "mechanism": r.transfer.mechanism.value,
                "reference": r.transfer.reference,
            }
            for r in recipients
            if r.transfer.mechanism.value != "none"
        ],
        "retention": [
            {
                "rule": rule.id,
                "categories": [x for x in rule.categories if x in purpose.categories],
                "duration": str(rule.duration),
                "anchor": rule.anchor.value,
                "action": rule.action.value,
                "holds": list(rule.holds),
            }
            for rule in m.retention
            if set(rule.categories) & set(purpose.categories)
        ],
        "legal_holds": [
            {"id": h.id, "duration": str(h.duration), "law": h.law, "basis": h.basis[lang]}
            for h in m.legal_holds
            if set(h.categories) & set(purpose.categories)
        ],
    }


def _security(m: Manifest) -> dict[str, Any]:
    s = m.security
    return {
        "encryption_at_rest": s.encryption_at_rest,
        "encryption_in_transit": s.encryption_in_transit,
        "mfa": s.mfa,
        "password_policy": s.password_policy.model_dump(),
        "delegated_sign_in": s.identity_provider.name if s.identity_provider else None,
        "session_idle_timeout": str(s.sessions.idle_timeout),
        "session_absolute_timeout": str(s.sessions.absolute_timeout),
        "access_control": "roles, purposes and relationships from the manifest; audited",
        "audit_log": "hash-chained, Ed25519-signed checkpoints",
        "storage": [
            {"provider": loc.provider, "country": loc.country, "region": loc.region}
            for loc in m.storage.locations
        ],
        "certifications": list(s.certifications),
    }
