"""The clinics app's public face: a clinic's safety policy, its protocol templates and locations as
other apps read them, the defaults a new clinic starts with, and the clinic's brand (name, logo,
colour, address and email sender) for pages, letters and emails.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.clinics.brand import (
    ClinicBrand,
    clinic_brand,
    clinic_brand_of,
    wear_brand,
    wear_clinic_brand,
    worn_brand,
)
from ketaclinic.clinics.selectors import (
    clinic_overview,
    clinic_policy_current,
    proposals_waiting,
    protocol_templates_active,
    staff_invitations_open,
)
from ketaclinic.clinics.services import clinic_defaults_install, policy_proposal_create

__all__ = [
    "ClinicBrand",
    "clinic_brand",
    "clinic_brand_of",
    "clinic_defaults_install",
    "clinic_overview",
    "clinic_policy_current",
    "policy_proposal_create",
    "proposals_waiting",
    "protocol_templates_active",
    "staff_invitations_open",
    "wear_brand",
    "wear_clinic_brand",
    "worn_brand",
]
