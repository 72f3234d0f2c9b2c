from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q

from ketaclinic.accounts.models import STAFF_ROLES, Role, User
from ketaclinic.clinics.models import Chair, Clinic, ClinicPolicy, Location, ProtocolTemplate


@dataclass(frozen=True)
class ClinicOverview:
    clinic: Clinic
    locations: list[Location]
    staff: list[User]
    patient_count: int


def clinic_overview(*, user: User) -> ClinicOverview:
    """Locations with their chairs, the staff list and the patient count in four queries."""
    assert user.clinic_id is not None
    clinic = Clinic.objects.annotate(n_patients=Count("patients", distinct=True)).get(
        pk=user.clinic_id
    )
    locations = list(
        Location.objects.filter(clinic_id=user.clinic_id).prefetch_related(
            Prefetch("chairs", queryset=Chair.objects.filter(is_active=True))
        )
    )
    staff = list(
        User.objects.filter(clinic_id=user.clinic_id, role__in=STAFF_ROLES, is_active=True)
        .prefetch_related("locations")
        .order_by("role", "full_name")
    )
    return ClinicOverview(
        clinic=clinic,
        locations=locations,
        staff=staff,
        patient_count=clinic.n_patients,
    )


def staff_locations(*, user: User) -> list[Location]:
    """The locations a staff member works at (all the clinic's for an admin), with chair counts."""
    assert user.clinic_id is not None
    qs = Location.objects.filter(clinic_id=user.clinic_id).annotate(
        n_chairs=Count("chairs", filter=Q(chairs__is_active=True))
    )
    if user.role != Role.CLINIC_ADMIN:
        qs = qs.filter(staff=user)
    return list(qs)


def clinic_policy_current(*, clinic_id: int) -> ClinicPolicy:
    """The clinic's newest policy version.

    A clinic created without ``clinic_defaults_install`` has no row yet; it gets an unsaved
    version 0 holding CLINICAL.md's defaults, so a check never runs without thresholds.
    """
    policy = ClinicPolicy.objects.filter(clinic_id=clinic_id).order_by("-version").first()
    if policy is None:
        policy = ClinicPolicy(clinic_id=clinic_id, version=0)
    return policy


def protocol_templates_active(*, clinic_id: int) -> list[ProtocolTemplate]:
    return list(ProtocolTemplate.objects.filter(clinic_id=clinic_id, is_active=True))
