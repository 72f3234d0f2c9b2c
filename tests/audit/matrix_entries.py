"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.authz import ADMIN_PAGE

ENTRIES: dict[str, Any] = {
    "audit:events": (ADMIN_PAGE, None),
}
