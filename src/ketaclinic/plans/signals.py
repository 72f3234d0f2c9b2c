"""Signals other apps may listen to without the plans app knowing them.

The plans app sits below scheduling (docs/architecture.md "Layout"), so what scheduling must do
when a plan changes is asked for here and done by scheduling's receivers.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent synchronously, inside the signing transaction, when a signed plan with a ketamine
# protocol supersedes the patient's earlier signed plans (gate 3, docs/clinical-policy.md "Gates
# along the journey (added 2026-12-03)"), with ``actor`` (the signing physician's
# ``audit.services.Actor``) and ``superseded_plan_ids`` (their primary keys). Each receiver
# returns the public ids (str) of the series it cancelled; the plan's signing event lists them
# as ``replaced_series``. A receiver that raises undoes the signing.
plan_superseded = Signal()
