"""The outcomes app's signals: what other apps may follow without outcomes knowing them."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent by the periodic refresh (``boosters.tasks.booster_suggestions_refresh_all``) with
#: ``clinic=`` after it stored new series results for that clinic, outside any transaction. The
#: analytics page keeps its figures per state of the stored results and draws them again here,
#: in the worker, so that the first person to open the page after a change does not wait.
results_refreshed = Signal()
