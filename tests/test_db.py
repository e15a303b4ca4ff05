from __future__ import annotations

from sqlalchemy import inspect

from integritet.db import Base, current_revisions, import_models, make_engine, upgrade


def test_upgrade_reaches_head_and_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    assert current_revisions(engine)
    import_models()
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
    engine.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    engine.dispose()
