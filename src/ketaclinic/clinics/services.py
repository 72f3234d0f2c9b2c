"""Writes to a clinic's set-up: safety-policy versions and protocol templates."""

from __future__ import annotations

from django.db import transaction

from ketaclinic.clinical.protocols import PROTOCOL_TEMPLATES
from ketaclinic.clinics.models import Clinic, ClinicPolicy, ProtocolTemplate


@transaction.atomic
def clinic_defaults_install(*, clinic: Clinic) -> None:
    """Give a new clinic CLINICAL.md's policy (version 1) and the shipped protocol templates.

    Idempotent: a clinic that already has a policy or any template keeps what it has.
    """
    if not ClinicPolicy.objects.filter(clinic=clinic).exists():
        policy = ClinicPolicy(clinic=clinic, version=1, change_note="CLINICAL.md defaults")
        policy.full_clean()
        policy.save()
    if not ProtocolTemplate.objects.filter(clinic=clinic).exists():
        for defaults in PROTOCOL_TEMPLATES:
            template = ProtocolTemplate(
                clinic=clinic,
                name=defaults.name,
                dose_mg_per_kg=defaults.dose_mg_per_kg,
                fixed_dose_mg=defaults.fixed_dose_mg,
                duration_min=defaults.duration_min,
                rate_cap_mg_per_h=defaults.rate_cap_mg_per_h,
                sessions_count=defaults.sessions_count,
                pattern=defaults.pattern,
                source=defaults.source,
            )
            template.full_clean()
            template.save()
