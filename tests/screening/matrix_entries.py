"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from typing import Any

from tests.authz import PUBLIC, REDIRECT

ENTRIES: dict[str, Any] = {
    # The self-check and the education pages are public for everyone, signed in or not.
    "selfcheck_start": (PUBLIC, None),
    "selfcheck_step": (PUBLIC, lambda w: {"step": "feel"}),
    # Without a self-check in the session the result page sends the visitor to the start.
    "selfcheck_result": ((REDIRECT,) * 8, None),
    "learn_index": (PUBLIC, None),
    "learn_page": (PUBLIC, lambda w: {"slug": "causes"}),
}
