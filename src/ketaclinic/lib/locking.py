"""Row locks and optimistic versions, written once (the idea of saleor's ``lock_objects``).

Two people can open the same record; the second save must not silently overwrite the first.
Every editable record has a ``version`` column. A writer, inside ``transaction.atomic()``:

1. locks the row (``lock_row``: ``SELECT ... FOR UPDATE``; on SQLite the write transaction
   already serializes writers),
2. checks the version the form was opened at (``require_version``; a stale form is refused with
   ``StaleObjectError``, which names what changed),
3. writes, and bumps the version in the database (``bump_version``: ``F("version") + 1``, so two
   writers that somehow both passed the check still cannot land on one number). A writer that
   holds the row lock and saves the whole row anyway may count ``version + 1`` itself.

Several rows of one model are locked in primary-key order (``lock_in_order``), so two writers
that need the same rows take them in the same order and cannot deadlock. The order between
models is written where the writers are (``scheduling/services/locks.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db.models import F, Model, QuerySet

from ketaclinic.lib.forms import StaleObjectError

M = TypeVar("M", bound=Model)


def lock_row(queryset: QuerySet[M], pk: Any) -> M:
    """The row ``pk`` of ``queryset``, locked until the transaction ends (DoesNotExist if none).

    The queryset carries the caller's scoping and ``select_related``; ``of=("self",)`` keeps the
    lock on this table only (PostgreSQL refuses to lock the nullable side of an outer join).
    """
    return queryset.select_for_update(of=("self",)).get(pk=pk)


def require_version(record: Model | None, expected_version: int | None, what: str) -> None:
    """Refuse a write made from a form opened at another version (``None``: no form to check).

    ``record`` is ``None`` for a row that does not exist yet (a diary entry, a reminder
    schedule): a form that showed none was opened at version 0, so a row created in the meantime
    is a change it did not see.
    """
    shown = 0 if record is None else record.version  # type: ignore[attr-defined]
    if expected_version is not None and shown != expected_version:
        raise StaleObjectError(what)


def lock_versioned(queryset: QuerySet[M], pk: Any, expected_version: int | None, what: str) -> M:
    """``lock_row`` then ``require_version``: the usual first step of an edit."""
    record = lock_row(queryset, pk)
    require_version(record, expected_version, what)
    return record


def bump_version(record: Model, fields: Iterable[str] | None = None) -> None:
    """Save ``record`` with its version one higher, then read back what the database computed.

    ``fields`` limits the save to those columns (the version and ``updated_at``, when the model
    has one, are always saved); without it every column is saved.
    """
    record.version = F("version") + 1  # type: ignore[attr-defined]
    names = {f.name for f in record._meta.concrete_fields}
    computed = ["version"] + (["updated_at"] if "updated_at" in names else [])
    if fields is None:
        record.save()
    else:
        record.save(update_fields=list(dict.fromkeys([*fields, *computed])))
    record.refresh_from_db(fields=computed)


def lock_in_order(queryset: QuerySet[M]) -> list[M]:
    """Every row of ``queryset`` locked, taken in primary-key order."""
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))
