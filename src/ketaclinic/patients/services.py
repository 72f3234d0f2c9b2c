"""Writes to patient records: one transaction each, audited in the same transaction."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.patients.access import access_patient
from ketaclinic.patients.models import Patient

EDITABLE_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "email",
    "phone",
    "home_location",
    "referring_physician",
    "referring_physician_email",
)


def _new_mrn(clinic: Clinic) -> str:
    # Random rather than sequential: a record number should not reveal how many patients exist.
    while True:
        mrn = f"K{secrets.randbelow(10**7):07d}"
        if not Patient.objects.filter(clinic=clinic, mrn=mrn).exists():
            return mrn


def patient_register(
    *,
    actor: Actor,
    clinic: Clinic,
    given_name: str,
    family_name: str,
    date_of_birth: dt.date,
    sex: str,
    email: str = "",
    phone: str = "",
    home_location: Location | None = None,
    referring_physician: str = "",
    referring_physician_email: str = "",
) -> Patient:
    patient = Patient(
        clinic=clinic,
        mrn=_new_mrn(clinic),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        email=email.strip().lower(),
        phone=phone.strip(),
        home_location=home_location,
        referring_physician=referring_physician.strip(),
        referring_physician_email=referring_physician_email.strip().lower(),
    )
    patient.full_clean()
    if home_location is not None and home_location.clinic_id != clinic.pk:
        raise ValidationError({"home_location": "Choose one of this clinic's locations."})
    with transaction.atomic():
        patient.save()
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="patient",
            object_id=patient.public_id,
            patient=patient,
            detail={"fields": sorted(EDITABLE_FIELDS)},
        )
    return patient


def patient_update(
    *, actor: Actor, public_id: str, expected_version: int, changes: dict[str, object]
) -> Patient:
    """Change demographics; refused (nothing saved) if the record moved on since it was read."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"{unknown[0]}: this field cannot be changed here")
    assert actor.user is not None
    with transaction.atomic():
        patient = access_patient(actor.user, public_id, for_write=True)
        # Lock the row so two saves cannot both pass the version check.
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        if patient.version != expected_version:
            raise StaleObjectError("patient record")
        changed = []
        for field, value in changes.items():
            if getattr(patient, field) != value:
                setattr(patient, field, value)
                changed.append(field)
        if not changed:
            return patient
        patient.full_clean()
        if (
            patient.home_location is not None
            and patient.home_location.clinic_id != patient.clinic_id
        ):
            raise ValidationError({"home_location": "Choose one of this clinic's locations."})
        patient.version = F("version") + 1
        patient.save()
        patient.refresh_from_db()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="patient",
            object_id=patient.public_id,
            patient=patient,
            # Names of the fields only: the audit trail must not become a second copy of the data.
            detail={"fields": sorted(changed)},
        )
    return patient
