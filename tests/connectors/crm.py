"""A realistic company database for the connector tests, and its dataset map.

Customers with contacts (people), their addresses, sites, machines, service tickets with
free text, invoices with order lines under a legal hold (Bokföringslagen), sign-in logs
and a newsletter list found by email alone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    select,
)

from integritet.manifest.model import Dataset

META = MetaData()
customers = Table(
    "customers",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_number", String(20), unique=True, nullable=False),
    Column("org_name", String(100), nullable=False),
    Column("org_number", String(20)),
)
addresses = Table(
    "addresses",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("street", String(100)),
    Column("city", String(60)),
)
contacts = Table(
    "contacts",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("address_id", ForeignKey("addresses.id")),
    Column("name", String(100)),
    Column("email", String(120), unique=True),
    Column("phone", String(40)),
    Column("personnummer", String(20)),
    Column("title", String(60)),
    Column("last_login", DateTime),
)
sites = Table(
    "sites",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("name", String(100)),
)
machines = Table(
    "machines",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("site_id", ForeignKey("sites.id"), nullable=False),
    Column("serial", String(40)),
)
tickets = Table(
    "tickets",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("machine_id", ForeignKey("machines.id"), nullable=False),
    Column("reported_by", ForeignKey("contacts.id")),
    Column("subject", String(200)),
    Column("description", Text),
    Column("created_at", DateTime),
)
invoices = Table(
    "invoices",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id")),
    Column("billing_name", String(100)),
    Column("amount", Numeric(10, 2)),
    Column("issued_at", DateTime),
)
order_lines = Table(
    "order_lines",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("invoice_id", ForeignKey("invoices.id"), nullable=False),
    Column("product", String(100)),
    Column("quantity", Integer),
)
logins = Table(
    "logins",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=False),
    Column("ip", String(45)),
    Column("at", DateTime),
)
newsletter = Table(
    "newsletter",
    META,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(120)),
)

ROWS: dict[str, list[dict[str, Any]]] = {
    "customers": [
        {"id": 1, "customer_number": "C-1001", "org_name": "Acme AB", "org_number": "5561234567"},
        {"id": 2, "customer_number": "C-1002", "org_name": "Berit Svensson EF"},
    ],
    "addresses": [
        {"id": 1, "street": "Storgatan 1", "city": "Malmö"},
        {"id": 2, "street": "Lillgatan 2", "city": "Lund"},
        {"id": 3, "street": "Byvägen 3", "city": "Ystad"},
    ],
    "contacts": [
        {
            "id": 1,
            "customer_id": 1,
            "address_id": 1,
            "name": "Anna Andersson",
            "email": "Anna.Andersson@Acme.se",
            "phone": "070-123 45 67",
            "personnummer": "19800101-1234",
            "title": "Driftchef",
            "last_login": datetime(2025, 12, 1, 8, 0),
        },
        {
            "id": 2,
            "customer_id": 1,
            "address_id": 2,
            "name": "Bo Berg",
            "email": "bo@acme.se",
            "phone": "+46 70 765 43 21",
            "title": "Tekniker",
            "last_login": datetime(2022, 3, 1, 8, 0),
        },
        {
            "id": 3,
            "customer_id": 2,
            "address_id": 3,
            "name": "Berit Svensson",
            "email": "berit@svensson.se",
            "phone": "08-555 123 45",
            "last_login": datetime(2025, 6, 1, 8, 0),
        },
    ],
    "sites": [
        {"id": 1, "customer_id": 1, "name": "Acme HQ"},
        {"id": 2, "customer_id": 1, "name": "Acme Lager"},
        {"id": 3, "customer_id": 2, "name": "Beritsbutiken"},
    ],
    "machines": [
        {"id": 1, "site_id": 1, "serial": "SN-1"},
        {"id": 2, "site_id": 2, "serial": "SN-2"},
        {"id": 3, "site_id": 3, "serial": "SN-3"},
    ],
    "tickets": [
        {
            "id": 1,
            "machine_id": 1,
            "reported_by": 1,
            "subject": "Larm",
            "description": "Ring mig på 070-1234567 / Anna",
            "created_at": datetime(2025, 1, 2, 9, 0),
        },
        {"id": 2, "machine_id": 2, "reported_by": 2, "subject": "Byte", "description": "Filter"},
        {"id": 3, "machine_id": 1, "reported_by": None, "subject": "Auto", "description": None},
        {"id": 4, "machine_id": 3, "reported_by": 3, "subject": "Kaffe", "description": "Berit"},
    ],
    "invoices": [
        {
            "id": 1,
            "customer_id": 1,
            "contact_id": 1,
            "billing_name": "Anna Andersson",
            "amount": Decimal("1200.00"),
            "issued_at": datetime(2025, 3, 31),
        },
        {
            "id": 2,
            "customer_id": 1,
            "contact_id": 2,
            "billing_name": "Bo Berg",
            "amount": Decimal("300.50"),
            "issued_at": datetime(2025, 4, 30),
        },
        {
            "id": 3,
            "customer_id": 2,
            "contact_id": 3,
            "billing_name": "Berit Svensson",
            "amount": Decimal("99.00"),
            "issued_at": datetime(2025, 5, 31),
        },
    ],
    "order_lines": [
        {"id": 1, "invoice_id": 1, "product": "Sensor", "quantity": 2},
        {"id": 2, "invoice_id": 1, "product": "Abonnemang", "quantity": 12},
        {"id": 3, "invoice_id": 2, "product": "Filter", "quantity": 1},
        {"id": 4, "invoice_id": 3, "product": "Kaffe", "quantity": 5},
    ],
    "logins": [
        {"id": 1, "contact_id": 1, "ip": "192.0.2.10", "at": datetime(2021, 5, 1, 7, 0)},
        {"id": 2, "contact_id": 1, "ip": "192.0.2.11", "at": datetime(2025, 12, 1, 8, 0)},
        {"id": 3, "contact_id": 2, "ip": "192.0.2.20", "at": datetime(2022, 3, 1, 8, 0)},
        {"id": 4, "contact_id": 3, "ip": "192.0.2.30", "at": datetime(2025, 6, 1, 8, 0)},
    ],
    "newsletter": [
        {"id": 1, "email": " ANNA.andersson@acme.se "},
        {"id": 2, "email": "someone@example.com"},
    ],
}

MAP: dict[str, Any] = {
    "id": "crm",
    "url_env": "CRM_DATABASE_URL",
    "tables": [
        {
            "name": "customers",
            "columns": {
                "customer_number": {"identity": "customer_number", "erase": "keep"},
                "org_name": {"category": "contact", "erase": "mask"},
            },
        },
        {"name": "addresses", "erase": "delete", "columns": {"street": {"category": "contact"}}},
        {
            "name": "contacts",
            "references": [
                {"column": "customer_id", "table": "customers"},
                {"column": "address_id", "table": "addresses", "follow": "parent"},
            ],
            "columns": {
                "name": {"category": "contact", "erase": "delete"},
                "email": {"category": "contact", "identity": "email"},
                "phone": {"category": "contact", "identity": "phone"},
                "personnummer": {"category": "contact", "identity": "personnummer"},
            },
            "timestamp": "last_login",
            "anchor": "last_login",
        },
        {
            "name": "sites",
            "erase": "keep",
            "references": [{"column": "customer_id", "table": "customers"}],
        },
        {
            "name": "machines",
            "erase": "keep",
            "references": [{"column": "site_id", "table": "sites"}],
        },
        {
            "name": "tickets",
            "references": [
                {"column": "machine_id", "table": "machines"},
                {"column": "reported_by", "table": "contacts"},
            ],
            "columns": {
                "reported_by": {"erase": "null"},
                "subject": {"erase": "keep"},
                "description": {"category": "contact", "erase": "mask", "free_text": True},
            },
            "timestamp": "created_at",
        },
        {
            "name": "invoices",
            "erase": "hold",
            "references": [
                {"column": "customer_id", "table": "customers"},
                {"column": "contact_id", "table": "contacts"},
            ],
            "columns": {"billing_name": {"category": "sales"}, "amount": {"category": "sales"}},
            "timestamp": "issued_at",
        },
        {
            "name": "order_lines",
            "erase": "hold",
            "references": [{"column": "invoice_id", "table": "invoices"}],
            "columns": {"product": {"category": "sales"}},
        },
        {
            "name": "logins",
            "erase": "delete",
            "references": [{"column": "contact_id", "table": "contacts"}],
            "columns": {"ip": {"category": "access_log"}},
            "timestamp": "at",
        },
        {"name": "newsletter", "erase": "delete", "columns": {"email": {"identity": "email"}}},
    ],
}  # fmt: skip


def dataset() -> Dataset:
    return Dataset.model_validate(MAP)


def reload(engine: Engine) -> None:
    """Put back exactly the rows of :data:`ROWS` (tables must exist)."""
    with engine.begin() as conn:
        for table in reversed(META.sorted_tables):
            conn.execute(table.delete())
        for table in META.sorted_tables:
            rows = ROWS[table.name]
            # every row gets every column, so one INSERT fits all rows
            conn.execute(table.insert(), [{c.name: r.get(c.name) for c in table.c} for r in rows])


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for before/after comparisons."""
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
            for t in META.sorted_tables
        }


def keys(engine: Engine, table: Table) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(table.c.id).order_by(table.c.id)).scalars())
