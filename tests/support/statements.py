"""Every SQL statement a database runs meanwhile: SQLAlchemy's own (its
before_cursor_execute event) and the hot path's driver SQL (shared.driver_sql)."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from shared import driver_sql
from shared.db import Database


@contextmanager
def statements(db: Database):
    """Yields a list that fills with (statement in upper case, one line; executemany?)."""
    seen: list[tuple[str, bool]] = []

    def note(statement: str, many: bool) -> None:
        seen.append((" ".join(statement.split()).upper(), many))

    def record(conn, cursor, statement, parameters, context, executemany):
        note(statement, executemany)
    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    driver_sql.WATCHERS.append(note)
    try:
        yield seen
    finally:
        driver_sql.WATCHERS.remove(note)
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
