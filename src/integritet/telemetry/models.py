"""Telemetry tables: sites, machines, readings and aggregates — no personal data.

Machine data is kept apart from the vault: a reading is linked to a machine, a machine to
a site and to a customer organisation (the vault's customer id, a random id, checked when
the machine is registered but not a foreign key, so the features stay independent). No
row links a reading to a person.

- ``telemetry_sites``: facilities of a customer (a label, not an address).
- ``telemetry_machines``: the machine id the devices send, customer, site, model, serial.
- ``telemetry_readings``: one value per row: machine (checked on ingest, no foreign key),
  time, kind, name, number or text, and the source (C1: where the record came from).
- ``telemetry_aggregates``: hourly and daily count/min/max/sum per machine and name,
  written by retention before raw readings are deleted (statistics survive).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from integritet.db import Base

KINDS = ("reading", "counter", "alarm", "firmware", "error_code", "note", "status")
"""The kinds of value a machine sends (``telemetry.fields[].kind``)."""

PERIODS = ("hour", "day")

# BIGINT on PostgreSQL; INTEGER on SQLite so the key is the rowid (autoincrement).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class SiteRow(Base):
    __tablename__ = "telemetry_sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MachineRow(Base):
    __tablename__ = "telemetry_machines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("telemetry_sites.id"), index=True)
    model: Mapped[str | None] = mapped_column(String(120))
    serial: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReadingRow(Base):
    __tablename__ = "telemetry_readings"
    __table_args__ = (Index("ix_telemetry_readings_machine_at", "machine_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key: ingestion checks the machine per batch, and PostgreSQL's per-row
    # foreign-key trigger halved bulk-insert throughput (docs/benchmarks.md).
    machine_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    num: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))


class AggregateRow(Base):
    __tablename__ = "telemetry_aggregates"
    __table_args__ = (Index("ix_telemetry_aggregates_start", "start"),)

    machine_id: Mapped[str] = mapped_column(ForeignKey("telemetry_machines.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)  # readings of any kind
    num_count: Mapped[int] = mapped_column(Integer)  # readings with a number
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    sum: Mapped[float | None] = mapped_column(Float)
