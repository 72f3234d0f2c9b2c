"""Factories: plain functions with sensible defaults, so a test says only what matters.

One module an app area: ``accounts``, ``clinics``, ``patients`` (and ``world``, the personas every
test shares) make the people and places; ``assessments``, ``plans``, ``scheduling``,
``infusions`` and ``outcomes`` make their records, straight in the database where a test is about
something else, through the services where it is about that app. The names below are the ones
most tests use; the rest are imported from their module (``from tests.factories.plans import
signed``), where one name can mean a different record in each area.
"""

from __future__ import annotations

from tests.factories.accounts import make_user
from tests.factories.assessments import ensure_eligible, make_decision
from tests.factories.base import PASSWORD, actor
from tests.factories.clinics import make_clinic, make_location
from tests.factories.patients import make_patient

__all__ = [
    "PASSWORD",
    "actor",
    "ensure_eligible",
    "make_clinic",
    "make_decision",
    "make_location",
    "make_patient",
    "make_user",
]
