"""The small interface every connector to the company's own systems implements.

Modelled on httpx's ``_transports/base.py``: a tiny protocol plus plain result types,
with an in-memory fake in :mod:`integritet.connectors.memory`.

A connector is asked about one person by their identities, a mapping from identity kind
(``email``, ``phone``, ``personnummer``, ``customer_number``, ``external_id``) to value:

- :meth:`Connector.find` returns every row that belongs to the person;
- :meth:`Connector.export` returns the same rows per table, as JSON-ready dicts;
- :meth:`Connector.erase` applies the map's erasure actions and reports what happened;
- :meth:`Rectifier.rectify` (optional, :class:`Rectifier`) writes the person's corrections.

Reports name tables, columns, row keys and reasons, never personal values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

IDENTITY_KINDS: tuple[str, ...] = (
    "email",
    "phone",
    "personnummer",
    "customer_number",
    "external_id",
)


@dataclass(frozen=True)
class Row:
    """One row of a connected table that belongs to the person."""

    table: str
    key: Any
    values: Mapping[str, Any]


@dataclass
class TableErasure:
    """What erasure did in one table; keys of the affected rows per action.

    ``nulled`` and ``masked`` map a column to the keys of the rows where it was cleared;
    ``held`` lists rows kept under a legal hold (``reasons`` says which one and why).
    """

    table: str
    deleted: list[Any] = field(default_factory=list)
    nulled: dict[str, list[Any]] = field(default_factory=dict)
    masked: dict[str, list[Any]] = field(default_factory=dict)
    held: list[Any] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def note_null(self, column: str, key: Any) -> None:
        self.nulled.setdefault(column, []).append(key)

    def note_mask(self, column: str, key: Any) -> None:
        self.masked.setdefault(column, []).append(key)

    def counts(self) -> dict[str, int]:
        return {
            "deleted": len(self.deleted),
            "nulled": sum(len(v) for v in self.nulled.values()),
            "masked": sum(len(v) for v in self.masked.values()),
            "held": len(self.held),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            **self.counts(),
            "deleted_keys": [str(k) for k in self.deleted],
            "nulled_columns": sorted(self.nulled),
            "masked_columns": sorted(self.masked),
            "held_keys": [str(k) for k in self.held],
            "reasons": list(self.reasons),
        }


@dataclass
class ErasureReport:
    """The outcome of one erasure in one connected system (one database)."""

    dataset: str
    tables: dict[str, TableErasure] = field(default_factory=dict)

    def table(self, name: str) -> TableErasure:
        if name not in self.tables:
            self.tables[name] = TableErasure(name)
        return self.tables[name]

    def totals(self) -> dict[str, int]:
        total = {"deleted": 0, "nulled": 0, "masked": 0, "held": 0}
        for part in self.tables.values():
            for name, count in part.counts().items():
                total[name] += count
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "totals": self.totals(),
            "tables": [t.as_dict() for t in self.tables.values()],
        }


@runtime_checkable
class Connector(Protocol):
    """A system that holds personal data outside the vault."""

    def find(self, identities: Mapping[str, str]) -> list[Row]:
        """Every row that belongs to the person with these identities."""
        ...

    def export(self, identities: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        """The person's rows per table, values made JSON-ready."""
        ...

    def erase(self, identities: Mapping[str, str]) -> ErasureReport:
        """Apply the erasure actions to the person's rows, atomically."""
        ...


@runtime_checkable
class Rectifier(Protocol):
    """A connector that can also correct the person's data (Art. 16)."""

    def rectify(self, identities: Mapping[str, str], changes: Mapping[str, Any]) -> Any:
        """Write ``{"category.field" or "column": value}`` to the person's rows, atomically;
        returns a report with an ``as_dict()`` that names no value."""
        ...


def known_identities(identities: Mapping[str, str]) -> dict[str, str]:
    """The identities of known kinds with a non-blank value; unknown kinds are an error."""
    from integritet.errors import ConnectorError

    unknown = sorted(set(identities) - set(IDENTITY_KINDS))
    if unknown:
        raise ConnectorError(
            f"unknown identity kind(s) {', '.join(unknown)}; use {', '.join(IDENTITY_KINDS)}"
        )
    return {k: v for k, v in identities.items() if v and v.strip()}
