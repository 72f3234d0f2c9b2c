"""The patients app's public face: who may see a patient record (every patient page and
service of other apps starts here), the staff search, and registering a patient.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.patients.access import access_patient, patients_visible_to
from ketaclinic.patients.selectors import patient_detail, patient_search
from ketaclinic.patients.services import patient_register

__all__ = [
    "access_patient",
    "patient_detail",
    "patient_register",
    "patient_search",
    "patients_visible_to",
]
