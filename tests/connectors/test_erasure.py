"""Erasure order and masking, without a database."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from integritet.connectors.erasure import Edge, Shape, mask_value, order, row_action
from integritet.errors import ConfigError
from integritet.manifest.model import ColumnErasure, DatasetTable


def test_tables_that_refer_to_others_come_first() -> None:
    edges = [
        Edge("order_lines", "invoice_id", "invoices", "id"),
        Edge("invoices", "contact_id", "contacts", "id"),
        Edge("contacts", "address_id", "addresses", "id"),
        Edge("contacts", "manager_id", "contacts", "id"),  # self-reference: ignored
    ]
    sequence = order(["addresses", "contacts", "invoices", "order_lines"], edges)
    assert sequence.index("order_lines") < sequence.index("invoices")
    assert sequence.index("invoices") < sequence.index("contacts") < sequence.index("addresses")


def test_a_cycle_is_a_clear_error() -> None:
    edges = [Edge("a", "b_id", "b", "id"), Edge("b", "a_id", "a", "id")]
    with pytest.raises(ConfigError, match="cycle"):
        order(["a", "b"], edges)


def test_row_action_comes_from_the_table_or_a_delete_column() -> None:
    assert row_action(DatasetTable(name="t", erase=ColumnErasure.hold)) == ColumnErasure.hold
    deleting = DatasetTable.model_validate({"name": "t", "columns": {"n": {"erase": "delete"}}})
    assert row_action(deleting) == ColumnErasure.delete
    nulling = DatasetTable.model_validate({"name": "t", "columns": {"n": {"erase": "null"}}})
    assert row_action(nulling) is None


def test_masks_fit_the_column() -> None:
    meta = MetaData()
    table = Table(
        "t",
        meta,
        Column("id", Integer, primary_key=True),
        Column("code", String(4)),
        Column("email", String(100), unique=True),
        Column("note", Text),
        Column("age", Integer),
    )
    shape = Shape({"t": table}, frozenset({("t", "email")}), None, lambda _s, _c: "")
    assert mask_value(shape, "t", "code", 1, "ABCD") == "[era"
    assert mask_value(shape, "t", "email", 5, "a@b.se") == "[erased:5]"
    assert mask_value(shape, "t", "note", 1, "text") == "[erased]"
    assert mask_value(shape, "t", "age", 1, 42) is None
    redacting = Shape({"t": table}, frozenset(), str.upper, lambda _s, _c: "")
    assert mask_value(redacting, "t", "note", 1, "ring anna") == "RING ANNA"
