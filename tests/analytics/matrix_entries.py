"""Authorization-matrix rows for this app (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.authz import DENY, LOGIN, OK

# Physicians and clinic admins see their own clinic's analytics (another clinic's physician sees
# only theirs); patients, the front desk and nurses get a 404.
#                   anon   alice  bob    desk   nurse  phys  admin  other_phys
ANALYTICS_PAGE = (LOGIN, DENY, DENY, DENY, DENY, OK, OK, OK)

ENTRIES: dict[str, Any] = {
    "analytics:clinic": (ANALYTICS_PAGE, None),
    "analytics:clinic_csv": (ANALYTICS_PAGE, None),
}
