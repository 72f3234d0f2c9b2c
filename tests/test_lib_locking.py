"""Row locks and optimistic versions (``lib/locking.py``), on a real versioned row: the patient
record. A stale form is refused and changes nothing; a save bumps the version in the database."""

from __future__ import annotations

import pytest
from django.db import transaction

from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.locking import (
    bump_version,
    lock_in_order,
    lock_row,
    lock_versioned,
    require_version,
)
from ketaclinic.patients.models import Patient
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db


def test_a_form_opened_at_an_older_version_is_refused_and_nothing_changes() -> None:
    patient = make_patient(make_clinic())
    Patient.objects.filter(pk=patient.pk).update(version=2)
    before = Patient.objects.values().get(pk=patient.pk)

    def edit() -> None:
        with transaction.atomic():
            locked = lock_versioned(Patient.objects.all(), patient.pk, 1, "patient record")
            locked.phone = "555-0100"
            bump_version(locked)

    with pytest.raises(StaleObjectError) as refused:
        edit()
    assert "This patient record was changed by someone else" in refused.value.messages[0]
    assert refused.value.code == "stale"
    assert Patient.objects.values().get(pk=patient.pk) == before


def test_no_expected_version_means_nothing_to_check() -> None:
    patient = make_patient(make_clinic())
    require_version(patient, None, "patient record")
    require_version(patient, patient.version, "patient record")
    with pytest.raises(StaleObjectError):
        require_version(patient, patient.version + 1, "patient record")


def test_a_save_bumps_the_version_in_the_database_and_on_the_record() -> None:
    patient = make_patient(make_clinic())
    stamped = patient.updated_at
    with transaction.atomic():
        locked = lock_versioned(Patient.objects.all(), patient.pk, 1, "patient record")
        locked.phone = "555-0100"
        bump_version(locked)
    assert locked.version == 2
    assert locked.updated_at > stamped
    saved = Patient.objects.get(pk=patient.pk)
    assert (saved.version, saved.phone) == (2, "555-0100")


def test_a_limited_save_writes_only_the_named_fields_and_the_version() -> None:
    patient = make_patient(make_clinic())
    with transaction.atomic():
        locked = lock_row(Patient.objects.all(), patient.pk)
        locked.phone = "555-0100"
        locked.given_name = "Not saved"
        bump_version(locked, fields=["phone"])
    saved = Patient.objects.get(pk=patient.pk)
    assert (saved.version, saved.phone, saved.given_name) == (2, "555-0100", patient.given_name)


def test_a_row_outside_the_callers_scope_is_not_found() -> None:
    mine, theirs = make_clinic("Mine"), make_clinic("Theirs")
    other = make_patient(theirs)
    with pytest.raises(Patient.DoesNotExist), transaction.atomic():
        lock_row(Patient.objects.filter(clinic=mine), other.pk)


def test_several_rows_are_locked_in_primary_key_order() -> None:
    clinic = make_clinic()
    made = [make_patient(clinic) for _ in range(3)]
    with transaction.atomic():
        locked = lock_in_order(Patient.objects.filter(clinic=clinic).order_by("-pk"))
    assert [p.pk for p in locked] == sorted(p.pk for p in made)
