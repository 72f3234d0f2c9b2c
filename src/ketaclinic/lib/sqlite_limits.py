"""SQLite's real limit on a statement's parameters, for Django's batching.

Django sizes ``bulk_create`` batches on SQLite for 999 parameters, the compile-time default of
SQLite before 3.32 (2020); since then the default is 32,766, and the library reports its own
limit. A batch of audit events (13 columns each) would otherwise split into a second INSERT
from 77 events on, and a page of 100 records cost one statement more than a page of 10.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# The modern default: the limit is raised to it at most, whatever the library allows.
MODERN_DEFAULT = 32_766


def sqlite_limits_receiver(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: size the new SQLite connection's batches by what it allows."""
    if connection.vendor != "sqlite":
        return
    allowed = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    connection.features.max_query_params = min(allowed, MODERN_DEFAULT)
