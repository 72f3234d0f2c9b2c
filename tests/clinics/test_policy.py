"""Clinic policy versions and shipped templates."""

from __future__ import annotations

import pytest

from ketaclinic.clinical.dosing import DEFAULT_LIMITS
from ketaclinic.clinical.eligibility import EligibilityPolicy
from ketaclinic.clinical.monitoring import DEFAULT_MONITORING
from ketaclinic.clinics.models import ClinicPolicy, ProtocolTemplate
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.clinics.services import clinic_defaults_install
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_new_clinic_gets_policy_version_one_with_clinical_md_defaults() -> None:
    clinic = factories.make_clinic()
    policy = clinic_policy_current(clinic_id=clinic.pk)
    assert policy.version == 1
    assert policy.eligibility_policy() == EligibilityPolicy()
    assert policy.dose_limits() == DEFAULT_LIMITS
    assert policy.monitoring_policy() == DEFAULT_MONITORING
    assert ProtocolTemplate.objects.filter(clinic=clinic).count() == 3


def test_installing_defaults_twice_changes_nothing() -> None:
    clinic = factories.make_clinic()
    clinic_defaults_install(clinic=clinic)
    assert ClinicPolicy.objects.filter(clinic=clinic).count() == 1
    assert ProtocolTemplate.objects.filter(clinic=clinic).count() == 3


def test_a_clinic_without_a_policy_row_gets_unsaved_defaults_as_version_zero() -> None:
    clinic = factories.make_clinic()
    ClinicPolicy.objects.filter(clinic=clinic).delete()
    policy = clinic_policy_current(clinic_id=clinic.pk)
    assert policy.pk is None
    assert policy.version == 0
    assert policy.dose_limits() == DEFAULT_LIMITS


def test_the_snapshot_names_every_threshold_and_the_version() -> None:
    clinic = factories.make_clinic()
    snapshot = clinic_policy_current(clinic_id=clinic.pk).snapshot()
    assert snapshot["policy_version"] == 1
    assert snapshot["max_session_mg"] == 200.0
    assert snapshot["alert_systolic_bp"] == 180
    assert len(snapshot) == len(ClinicPolicy.THRESHOLD_FIELDS) + 1
