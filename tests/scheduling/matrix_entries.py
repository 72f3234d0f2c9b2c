"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from typing import Any

ENTRIES: dict[str, Any] = {}
