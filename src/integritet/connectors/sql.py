"""The SQL connector: the company's own database, driven by the manifest's ``datasets``.

``SQLConnector(dataset, url)`` works with any SQLAlchemy URL (SQLite, PostgreSQL,
MariaDB/MySQL). It reflects only the tables the map names and checks that every mapped
column exists.

Access: the person's *root rows* are found in every table with identity columns (email
case-insensitively, phones by digits with +46/0 handling, personnummer with or without
century and separator); then ``references`` are followed transitively — rows pointing at
the person's rows (``follow: children``, the default) and, where the map says so, the rows
the person's rows point at (``follow: parent``). Every identity given is matched (OR):
pass only identities of the person. A ``customer_number`` identity on a customers table
makes the whole customer the root, for sole traders.

Rectification: :meth:`SQLConnector.rectify` (:mod:`integritet.connectors.rectify`).

Erasure: see :mod:`integritet.connectors.erasure`; collection and changes run in one
transaction per database, so a failure leaves the database as it was.

Keys: each table needs a single-column key (``key``, default ``id``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    Select,
    String,
    Table,
    UniqueConstraint,
    any_,
    bindparam,
    inspect,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError

from integritet.connectors import erasure, identity
from integritet.connectors import rectify as rectification
from integritet.connectors.base import ErasureReport, Row, known_identities
from integritet.connectors.erasure import Edge, Found, Shape
from integritet.connectors.rectify import RectifyReport
from integritet.db import make_engine
from integritet.errors import ConfigError, ConnectorError
from integritet.manifest.model import Dataset, DatasetTable, Manifest


@dataclass(frozen=True)
class FreeText:
    """A free-text cell for the PII scanner (L2)."""

    table: str
    key: Any
    column: str
    text: str


def dataset_url(dataset: Dataset, environ: Mapping[str, str] | None = None) -> str:
    """The dataset's URL: from the env var ``url_env`` if named, else ``url``."""
    env = os.environ if environ is None else environ
    if dataset.url_env:
        value = env.get(dataset.url_env)
        if not value:
            raise ConfigError(
                f"dataset {dataset.id}: environment variable {dataset.url_env} is not set "
                "(it must hold the database URL)"
            )
        return value
    if dataset.url:
        return dataset.url
    raise ConfigError(f"dataset {dataset.id}: give url_env (preferred) or url")


@dataclass(frozen=True)
class _Query:
    """One lookup of the walk: ``generic`` runs anywhere; on PostgreSQL the statement from
    ``pg`` (values as one array parameter, ``= ANY(...)``) is compiled once per ``key``."""

    key: tuple[Any, ...]
    generic: Select[Any]
    pg: Callable[[], Select[Any]]
    params: dict[str, Any]


def _run_all(
    conn: Connection,
    queries: list[_Query],
    compiled: dict[tuple[Any, ...], tuple[str, dict[str, Any]]],
) -> list[list[dict[str, Any]]]:
    """Run ``queries`` in the connection's transaction; rows as dicts, in order.

    With psycopg (PostgreSQL) they are sent together in pipeline mode, one round trip for
    all of them, as statements compiled once (``compiled`` caches the SQL). Elsewhere, one
    after another through SQLAlchemy."""
    if not queries:
        return []
    dialect = conn.dialect
    raw = conn.connection.dbapi_connection
    pipeline = getattr(raw, "pipeline", None)
    if dialect.name != "postgresql" or dialect.driver != "psycopg" or pipeline is None:
        return [[dict(r) for r in conn.execute(q.generic).mappings()] for q in queries]
    for q in queries:
        if q.key not in compiled:
            statement = q.pg().compile(dialect=dialect)
            compiled[q.key] = (str(statement), dict(statement.params))  # constants included
    out: list[list[dict[str, Any]]] = []
    with pipeline():
        cursors = []
        for q in queries:
            cursor = raw.cursor()  # type: ignore[union-attr]
            sql, constants = compiled[q.key]
            cursor.execute(sql, {**constants, **q.params})
            cursors.append(cursor)
        for cursor in cursors:
            rows = cursor.fetchall()  # syncs the pipeline: the description is known after
            names = [d[0] for d in cursor.description or ()]
            out.append([dict(zip(names, row, strict=True)) for row in rows])
            cursor.close()
    return out


def jsonable(value: Any) -> Any:
    """A column value as JSON: times as ISO 8601, decimals and UUIDs as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


class SQLConnector:
    """One database described by one manifest dataset."""

    def __init__(
        self,
        dataset: Dataset,
        url: str | None = None,
        *,
        manifest: Manifest | None = None,
        redact: Callable[[str], str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.dataset = dataset
        self.engine = engine or make_engine(url or dataset_url(dataset))
        self.manifest = manifest
        self.redact = redact
        self.specs: dict[str, DatasetTable] = {t.name: t for t in dataset.tables}
        self.edges = [
            Edge(t.name, r.column, r.table, r.to, r.follow)
            for t in dataset.tables
            for r in t.references
        ]
        self._shape: Shape | None = None
        self._compiled: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}  # PostgreSQL
        self._db_edges: list[Edge] = []

    # ----------------------------------------------------------------- reflection

    @property
    def shape(self) -> Shape:
        if self._shape is None:
            self._shape = self._reflect()
        return self._shape

    def _reflect(self) -> Shape:
        try:
            insp = inspect(self.engine)
            present = set(insp.get_table_names())
            missing = sorted(set(self.specs) - present)
            if missing:
                raise ConfigError(
                    f"dataset {self.dataset.id}: table(s) not in the database: {', '.join(missing)}"
                )
            meta = MetaData()
            meta.reflect(bind=self.engine, only=list(self.specs))
        except SQLAlchemyError as exc:
            raise ConnectorError(
                f"dataset {self.dataset.id}: cannot read the schema ({type(exc).__name__})"
            ) from exc
        tables = {name: meta.tables[name] for name in self.specs}
        unique = self._unique_columns(tables)
        self._check_columns(tables)
        self._db_edges = [
            Edge(name, fk.parent.name, fk.column.table.name, fk.column.name)
            for name, table in tables.items()
            for fk in table.foreign_keys
            if fk.column.table.name in tables
        ]
        return Shape(tables, frozenset(unique), self.redact, self._hold_reason)

    @staticmethod
    def _unique_columns(tables: Mapping[str, Table]) -> set[tuple[str, str]]:
        """Columns that are unique on their own (primary key, unique constraint or index)."""
        unique: set[tuple[str, str]] = set()
        for name, table in tables.items():
            groups = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
            groups += [list(i.columns) for i in table.indexes if i.unique]
            groups.append(list(table.primary_key.columns))
            unique.update((name, g[0].name) for g in groups if len(g) == 1)
        return unique

    def _check_columns(self, tables: dict[str, Table]) -> None:
        problems: list[str] = []
        for spec in self.specs.values():
            have = set(tables[spec.name].c.keys())
            wanted = {spec.key, *spec.columns, *(r.column for r in spec.references)}
            if spec.timestamp:
                wanted.add(spec.timestamp)
            problems += [f"{spec.name}.{c}" for c in sorted(wanted - have)]
            for ref in spec.references:
                if ref.table not in tables:
                    problems.append(f"{spec.name} refers to unmapped table {ref.table}")
                elif ref.to not in tables[ref.table].c:
                    problems.append(f"{ref.table}.{ref.to}")
        if problems:
            raise ConfigError(
                f"dataset {self.dataset.id}: not in the database: {', '.join(problems)}"
            )

    def validate(self) -> None:
        """Check the map against the database now (tables, columns, references)."""
        _ = self.shape
        erasure.order(self.specs, [*self.edges, *self._db_edges])

    def _hold_reason(self, spec: DatasetTable, categories: set[str]) -> str:
        holds = []
        if self.manifest is not None:
            holds = [h for c in sorted(categories) for h in self.manifest.holds_for(c)]
        if holds:
            named = ", ".join(sorted({f"{h.id} ({h.law})" for h in holds}))
            return f"kept under legal hold {named}"
        cats = ", ".join(sorted(categories)) or spec.name
        return f"kept under a legal hold marked in the dataset map ({cats})"

    # ----------------------------------------------------------------- collection

    def _add(self, found: Found, table: str, row: Mapping[Any, Any]) -> bool:
        key = row[self.specs[table].key]
        rows = found.setdefault(table, {})
        if key in rows:
            return False
        rows[key] = dict(row)
        return True

    def _roots(self, conn: Connection, people: Mapping[Any, Mapping[str, str]]) -> dict[Any, Found]:
        """Each person's root rows: one query per table with identity columns for everyone
        (sent together); the stored value comes back normalised by the same SQL expression
        the match uses, so a row is given to exactly the people whose forms it matches."""
        found: dict[Any, Found] = {person: {} for person in people}
        plans: list[tuple[DatasetTable, dict[str, dict[str, set[Any]]]]] = []
        queries: list[_Query] = []
        for spec in self.specs.values():
            table = self.shape.tables[spec.name]
            owners: dict[str, dict[str, set[Any]]] = {}  # column -> form -> people
            for person, identities in people.items():
                for name, col in spec.columns.items():
                    if col.identity and col.identity in identities:
                        forms = identity.FORMS[col.identity](identities[col.identity])
                        for form in forms:
                            owners.setdefault(name, {}).setdefault(form, set()).add(person)
            if not owners:
                continue
            kinds = {name: spec.columns[name].identity or "" for name in owners}
            normal = {
                name: identity.column_expression(kinds[name], table.c[name]).label(f"_n{i}")
                for i, name in enumerate(owners)
            }
            plans.append((spec, owners))
            params = {f"f{i}": sorted(forms) for i, forms in enumerate(owners.values())}

            def pg(table: Table = table, normal: dict[str, Any] = normal) -> Select[Any]:
                arrays = [
                    expr == any_(bindparam(f"f{i}", type_=ARRAY(String())))
                    for i, expr in enumerate(normal.values())
                ]
                return select(table, *normal.values()).where(or_(*arrays))

            queries.append(
                _Query(
                    ("roots", spec.name, tuple(owners)),
                    select(table, *normal.values()).where(
                        or_(*(normal[name].in_(sorted(forms)) for name, forms in owners.items()))
                    ),
                    pg,
                    params,
                )
            )
        found_rows = _run_all(conn, queries, self._compiled)
        for (spec, owners), rows in zip(plans, found_rows, strict=True):
            columns = list(self.shape.tables[spec.name].c.keys())
            for row in rows:
                values = {c: row[c] for c in columns}
                who: set[Any] = set()
                for i, name in enumerate(owners):
                    who |= owners[name].get(row[f"_n{i}"], set())
                for person in who:
                    self._add(found[person], spec.name, values)
        return found

    def _collect(self, conn: Connection, found: Found) -> Found:
        """Follow references from ``found`` until no new rows turn up."""
        return self._collect_many(conn, {0: found})[0]

    def _collect_many(self, conn: Connection, people: dict[Any, Found]) -> dict[Any, Found]:
        """Follow references from each person's rows until no new rows turn up.

        Round by round: every reference and direction with values not asked yet gets one
        ``IN`` query for everyone, and the queries of a round are sent together (one round
        trip on PostgreSQL); values already fetched are answered from memory. Each person
        ends up with exactly the rows a walk of their own would find (the closure)."""
        asked: dict[Any, set[tuple[Edge, str, Any]]] = {person: set() for person in people}
        fetched: dict[tuple[Edge, str], dict[Any, list[dict[str, Any]]]] = {}
        steps = [
            (edge, upward)
            for edge in self.edges
            for upward in (False, True)
            if edge.follow in (("parent", "both") if upward else ("children", "both"))
        ]
        while True:
            wanted: list[tuple[Edge, bool, dict[Any, list[Any]], int]] = []
            queries: list[_Query] = []
            for edge, upward in steps:
                fresh_of = self._fresh(people, asked, edge, upward)
                if not fresh_of:
                    continue
                direction = "up" if upward else "down"
                cache = fetched.setdefault((edge, direction), {})
                missing = sorted(
                    {v for fresh in fresh_of.values() for v in fresh if v not in cache}, key=repr
                )
                target, target_col = (edge.parent, edge.to) if upward else (edge.child, edge.column)
                table = self.shape.tables[target]
                parts = list(erasure.chunks(missing))
                for part in parts:
                    for value in part:
                        cache[value] = []
                    column = table.c[target_col]

                    def pg(table: Table = table, column: Any = column) -> Select[Any]:
                        values = bindparam("values", type_=ARRAY(column.type))
                        return select(table).where(column == any_(values))

                    queries.append(
                        _Query(
                            ("walk", target, target_col),
                            select(table).where(column.in_(part)),
                            pg,
                            {"values": list(part)},
                        )
                    )
                wanted.append((edge, upward, fresh_of, len(parts)))
            if not wanted:
                return people
            results = iter(_run_all(conn, queries, self._compiled))
            for edge, upward, fresh_of, count in wanted:
                direction = "up" if upward else "down"
                cache = fetched[(edge, direction)]
                target, target_col = (edge.parent, edge.to) if upward else (edge.child, edge.column)
                for _ in range(count):
                    for got in next(results):
                        cache.setdefault(got[target_col], []).append(got)
                for person, fresh in fresh_of.items():
                    for value in fresh:
                        for row in cache.get(value, ()):
                            self._add(people[person], target, row)

    def _fresh(
        self,
        people: dict[Any, Found],
        asked: dict[Any, set[tuple[Edge, str, Any]]],
        edge: Edge,
        upward: bool,
    ) -> dict[Any, list[Any]]:
        """Per person, the values of ``edge`` (in this direction) not asked about yet."""
        source, source_col = (edge.child, edge.column) if upward else (edge.parent, edge.to)
        direction = "up" if upward else "down"
        fresh_of: dict[Any, list[Any]] = {}
        for person, found in people.items():
            values = {r[source_col] for r in found.get(source, {}).values()} - {None}
            fresh = [v for v in values if (edge, direction, v) not in asked[person]]
            if fresh:
                asked[person].update((edge, direction, v) for v in fresh)
                fresh_of[person] = fresh
        return fresh_of

    def _person(self, conn: Connection, identities: Mapping[str, str]) -> Found:
        return self._people(conn, {0: identities}).get(0, {})

    def _people(
        self, conn: Connection, people: Mapping[Any, Mapping[str, str]]
    ) -> dict[Any, Found]:
        wanted = {person: known_identities(ids) for person, ids in people.items()}
        wanted = {person: ids for person, ids in wanted.items() if ids}
        found = self._collect_many(conn, self._roots(conn, wanted)) if wanted else {}
        return {person: found.get(person, {}) for person in people}

    # ----------------------------------------------------------------- the protocol

    def find(self, identities: Mapping[str, str]) -> list[Row]:
        with self._connect() as conn:
            found = self._person(conn, identities)
        return [
            Row(table, key, values)
            for table in self.specs
            for key, values in found.get(table, {}).items()
        ]

    def export(self, identities: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.find(identities):
            out.setdefault(row.table, []).append(
                {name: jsonable(value) for name, value in row.values.items()}
            )
        return out

    def categories(self) -> dict[str, dict[str, str]]:
        """Per table, the category of each mapped column (for the access report)."""
        return {
            spec.name: {n: c.category for n, c in spec.columns.items() if c.category}
            for spec in self.specs.values()
        }

    def erase(self, identities: Mapping[str, str]) -> ErasureReport:
        with self._begin() as conn:
            return self._erase_found(conn, self._person(conn, identities))

    def erase_many(self, people: Mapping[Any, Mapping[str, str]]) -> dict[Any, ErasureReport]:
        """:meth:`erase` for many people in one transaction: one walk for everyone (see
        :meth:`_collect_many`), one report per person, the changes applied together."""
        with self._begin() as conn:
            found = self._people(conn, people)
            reports: dict[Any, ErasureReport] = {}
            merged: dict[str, erasure.TablePlan] = {}
            edges = [*self.edges, *self._db_edges]
            for person, rows in found.items():
                report = reports[person] = ErasureReport(self.dataset.id)
                plans = erasure.plan(self.specs, self.shape, edges, rows, report)
                for name, table_plan in plans.items():
                    into = merged.setdefault(name, erasure.TablePlan())
                    seen = set(into.deletes)
                    into.deletes.extend(k for k in table_plan.deletes if k not in seen)
                    for key, values in table_plan.updates.items():
                        into.updates.setdefault(key, {}).update(values)
            for table_plan in merged.values():  # a row deleted for one person is not updated
                gone = set(table_plan.deletes)
                for key in [k for k in table_plan.updates if k in gone]:
                    del table_plan.updates[key]
            keys = {name: spec.key for name, spec in self.specs.items()}
            sequence = erasure.order(self.specs, edges)
            erasure.apply(conn, self.shape.tables, keys, sequence, merged)
            return reports

    def rectify(self, identities: Mapping[str, str], changes: Mapping[str, Any]) -> RectifyReport:
        """Write the person's corrections (``{"category.field" or "column": value}``) to
        their rows, in one transaction; see :mod:`integritet.connectors.rectify`."""
        report = RectifyReport(self.dataset.id)
        with self._begin() as conn:
            found = self._person(conn, identities)
            rectification.apply(conn, self.shape.tables, self.specs, found, changes, report)
        return report

    def _erase_found(
        self, conn: Connection, found: Found, release_holds: bool = False
    ) -> ErasureReport:
        shape = self.shape
        edges = [*self.edges, *self._db_edges]
        report = ErasureReport(self.dataset.id)
        plans = erasure.plan(self.specs, shape, edges, found, report, release_holds=release_holds)
        sequence = erasure.order(self.specs, edges)
        keys = {name: spec.key for name, spec in self.specs.items()}
        erasure.apply(conn, shape.tables, keys, sequence, plans)
        return report

    # ----------------------------------------------------------------- retention

    def _before(self, table: str, before: datetime) -> tuple[Table, Any]:
        spec = self.specs.get(table)
        if spec is None or not spec.timestamp:
            raise ConfigError(
                f"dataset {self.dataset.id}: table {table} has no timestamp column in the map"
            )
        db_table = self.shape.tables[table]
        column = db_table.c[spec.timestamp]
        moment = before.astimezone(UTC)
        if not (isinstance(column.type, DateTime) and column.type.timezone):
            moment = moment.replace(tzinfo=None)
        return db_table, column < moment

    def expired(self, table: str, before: datetime) -> list[Row]:
        """Rows of ``table`` whose timestamp column is older than ``before``."""
        db_table, condition = self._before(table, before)
        key = self.specs[table].key
        with self._connect() as conn:
            rows = conn.execute(select(db_table).where(condition)).mappings().all()
        return [Row(table, r[key], dict(r)) for r in rows]

    def erase_expired(
        self, table: str, before: datetime, *, release_holds: bool = False
    ) -> ErasureReport:
        """Erase the expired rows of ``table`` and the rows that follow them, in one go.

        ``release_holds=True`` deletes rows whose hold has run out (the caller decides).
        """
        db_table, condition = self._before(table, before)
        with self._begin() as conn:
            found: Found = {}
            for row in conn.execute(select(db_table).where(condition)).mappings():
                self._add(found, table, row)
            return self._erase_found(conn, self._collect(conn, found), release_holds)

    # ----------------------------------------------------------------- free text (L2)

    def free_text_columns(self) -> list[tuple[str, str]]:
        return [
            (spec.name, name)
            for spec in self.specs.values()
            for name, col in spec.columns.items()
            if col.free_text
        ]

    def scan_free_text(self, batch: int = 500) -> Iterator[FreeText]:
        """Every non-empty free-text cell, table by table, in key order."""
        for table_name, column in self.free_text_columns():
            table = self.shape.tables[table_name]
            key = table.c[self.specs[table_name].key]
            last: Any = None
            while True:
                query = select(key, table.c[column]).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                with self._connect() as conn:
                    rows = conn.execute(query).all()
                for row_key, text in rows:
                    if text:
                        yield FreeText(table_name, row_key, column, str(text))
                if len(rows) < batch:
                    break
                last = rows[-1][0]

    def replace_text(self, table: str, key: Any, column: str, text: str | None) -> None:
        """Overwrite one free-text cell, e.g. with the scanner's redacted text."""
        if (table, column) not in self.free_text_columns():
            raise ConfigError(f"{table}.{column} is not a free-text column in the dataset map")
        db_table = self.shape.tables[table]
        with self._begin() as conn:
            key_col = db_table.c[self.specs[table].key]
            conn.execute(db_table.update().where(key_col == key).values({column: text}))

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        _ = self.shape
        with self._database_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """One transaction: everything in it commits together or not at all."""
        _ = self.shape
        with self._database_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise ConnectorError(
                f"dataset {self.dataset.id}: database error ({type(exc).__name__}); "
                "nothing was changed"
            ) from exc

    def close(self) -> None:
        self.engine.dispose()


def connectors_for(
    manifest: Manifest, environ: Mapping[str, str] | None = None
) -> dict[str, SQLConnector]:
    """One connector per dataset of ``manifest``; a missing URL variable is an error."""
    return {
        ds.id: SQLConnector(ds, dataset_url(ds, environ), manifest=manifest)
        for ds in manifest.datasets
    }
