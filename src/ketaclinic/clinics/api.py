"""The clinics app's public face: a clinic's safety policy, its protocol templates and locations as
other apps read them, and the defaults a new clinic starts with.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.clinics.selectors import (
    clinic_overview,
    clinic_policy_current,
    protocol_templates_active,
    staff_locations,
)
from ketaclinic.clinics.services import clinic_defaults_install

__all__ = [
    "clinic_defaults_install",
    "clinic_overview",
    "clinic_policy_current",
    "protocol_templates_active",
    "staff_locations",
]
