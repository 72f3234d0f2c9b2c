"""What a new clinic starts with: the default safety settings and the shipped protocol templates.

Separate from the writes an admin makes because no one acts here: whoever makes a clinic (the
demo loader, the test factories) calls it once, so there is no actor, no access check and no
audit event. The values are ketaclinic's own (``clinical.protocols`` and the policy's defaults);
migration 0003 gave existing clinics the same with its own frozen copy.
"""

from __future__ import annotations

from django.db import transaction

from ketaclinic.clinical.protocols import PROTOCOL_TEMPLATES
from ketaclinic.clinics.models import Clinic, ClinicPolicy, ProtocolTemplate


@transaction.atomic
def clinic_defaults_install(*, clinic: Clinic) -> None:
    """Give a new clinic the default policy (version 1) and the shipped protocol templates.

    Idempotent: a clinic that already has a policy or any template keeps what it has.
    """
    if not ClinicPolicy.objects.filter(clinic=clinic).exists():
        policy = ClinicPolicy(clinic=clinic, version=1, change_note="ketaclinic defaults")
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
