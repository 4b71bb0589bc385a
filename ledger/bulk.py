"""Writing many rows in one statement, for ``services.post_history`` (and the import that
writes the exchange records beside it): ids taken from a table's own sequence, and plain
rows streamed in with PostgreSQL's COPY (SQLite: executemany). Nothing here checks anything:
the caller has, and the database's own rules (constraints, triggers) apply as to any insert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, models


def next_ids(model: type[models.Model], count: int) -> list[int]:
    """Ids for ``count`` new rows of ``model``: from the table's own sequence on PostgreSQL
    (safe beside concurrent inserts); on SQLite, after the highest (its one writer holds the
    database, and the tables this is used for never lose rows)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        top = cursor.fetchone()[0]
    return list(range(top + 1, top + 1 + count))


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``model``'s table, in one
    statement: COPY on PostgreSQL, executemany on SQLite (dates and times adapted as the ORM
    adapts them)."""
    table = model._meta.db_table
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        ops = connection.ops
        adapted = [
            tuple(
                ops.adapt_datetimefield_value(value)
                if isinstance(value, datetime)
                else ops.adapt_datefield_value(value)
                if isinstance(value, date)
                else value
                for value in row
            )
            for row in rows
        ]
        if adapted:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", adapted)
