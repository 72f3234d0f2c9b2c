"""Writing seeded rows in short transactions: ``write_chunked`` for model instances (ids come
back, children can point at them), ``copy_rows`` for the two big tables written as plain tuples
(the diary and the audit trail): PostgreSQL's ``COPY ... FROM STDIN`` (psycopg 3), SQLite's
``executemany``.

Why short: on SQLite every ``transaction.atomic()`` takes the database's one write lock at BEGIN
(IMMEDIATE), and a live server's writers wait behind it for at most their busy timeout (20 s,
``settings.py``). One transaction per batch of at most ``TXN_ROWS`` rows holds the lock for tens
of milliseconds, so a seed can run beside a live server; everything drawn or computed is done
before the transaction opens.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models, transaction
from django.utils import timezone

TXN_ROWS = 5000
"""Plain rows written in one transaction (about 50-100 ms on SQLite; less with COPY)."""

TXN_OBJECTS = 500
"""Model instances written in one transaction: ``bulk_create`` costs more a row (each returns
its id; an appointment's insert runs the overlap triggers), so 500 of them (about 0.2-0.5 s on
SQLite; under a loaded machine a 1,300-row transaction of sessions held the lock 3 s)."""

M = TypeVar("M", bound=models.Model)


def chunks(items: Sequence[Any], size: int = TXN_ROWS) -> Iterable[Sequence[Any]]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def write_chunked(model: type[M], objects: Sequence[M], *, size: int = TXN_OBJECTS) -> None:
    """``bulk_create`` in transactions of at most ``size`` rows (ids are set on the objects)."""
    for part in chunks(objects, size):
        with transaction.atomic():
            model.objects.bulk_create(part)  # type: ignore[attr-defined]


def table_columns(model: type[models.Model], given: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The database columns of ``model`` to write: ``given`` (field names) first, then every other
    concrete column but the id with its default, so a column added later with a default does not
    break the seed. Returns (column names, the defaults' values)."""
    now = timezone.now()
    columns = [str(model._meta.get_field(name).column) for name in given]  # type: ignore[union-attr]
    defaults: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in given or field.attname in given:
            continue
        if getattr(field, "generated", False):  # computed by the database
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value: Any = now
        elif field.has_default() or (field.empty_strings_allowed and not field.null):
            value = field.get_default()  # "" for a text column without a default
        elif field.null:
            value = None
        else:
            raise RuntimeError(f"the seed gives no value for {model.__name__}.{field.name}")
        if isinstance(field, models.JSONField):
            value = json.dumps(value)
        columns.append(str(field.column))
        defaults.append(value)
    return columns, defaults


def _sqlite_value(value: Any) -> Any:
    # As Django stores them on SQLite: naive UTC text for instants, ISO dates.
    if isinstance(value, dt.datetime):
        return str(value.astimezone(dt.UTC).replace(tzinfo=None))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex  # Django keeps a UUID as 32 hex digits on SQLite
    return value


def copy_rows(
    model: type[models.Model],
    given: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``rows`` (values of the fields ``given``, JSON already as text) in the caller's
    transaction: COPY on PostgreSQL, ``executemany`` elsewhere."""
    columns, defaults = table_columns(model, given)
    table = model._meta.db_table
    tail = tuple(defaults)
    if connection.vendor == "postgresql":
        names = ", ".join(f'"{c}"' for c in columns)
        with connection.cursor() as cursor:
            raw = cursor.connection  # psycopg 3
            with raw.cursor() as pg, pg.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row + tail)
        return
    marks = ", ".join(["%s"] * len(columns))
    names = ", ".join(f'"{c}"' for c in columns)
    converted_tail = tuple(_sqlite_value(v) for v in tail)
    with connection.cursor() as cursor:
        cursor.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES ({marks})',  # noqa: S608 -- model's names
            [tuple(_sqlite_value(v) for v in row) + converted_tail for row in rows],
        )


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new ids for ``model``, increasing, inside the caller's transaction.

    The audit chain is read in id order, so the seed gives its events their ids itself. On
    PostgreSQL they come from the table's sequence (other writers never get them); on SQLite
    the caller's transaction holds the write lock, so nobody else inserts meanwhile.
    """
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return sorted(int(r[0]) for r in cursor.fetchall())
        cursor.execute(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"')  # noqa: S608 -- model's
        top = int(cursor.fetchone()[0])
    return list(range(top + 1, top + 1 + count))
