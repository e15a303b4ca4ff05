"""Alembic environment: runs against the connection handed over by :func:`integritet.db.upgrade`."""

from __future__ import annotations

from alembic import context

from integritet.db import Base, import_models

import_models()
target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through integritet.db.upgrade() or `integritet db upgrade`")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
