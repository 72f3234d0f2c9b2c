"""Writes to a clinic's protocol templates: the dose, duration and series a new plan starts from.

Separate from the places (locations, chairs) because a template is clinical: every save is
checked against the clinic's dose limits in force, and edits are versioned (a form opened at an
older version is refused, ``lib.locking``). Plans copy a template's values when they are made, so
an edit never changes an existing plan; a template is deactivated, never deleted, since plans
name the template they came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import dosing
from ketaclinic.clinical.ceilings import INFUSION_DURATION_MIN_RANGE
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinics.access import access_protocol_template, admin_clinic
from ketaclinic.clinics.models import ProtocolTemplate
from ketaclinic.clinics.policy_fields import show
from ketaclinic.clinics.selectors import clinic_policy_current, template_limit_problem
from ketaclinic.clinics.services._common import (
    apply_changes,
    refuse_taken_name,
    refuse_unknown,
    strip,
)
from ketaclinic.lib.locking import bump_version, require_version

TEMPLATE_FIELDS = (
    "name",
    "dose_mg_per_kg",
    "fixed_dose_mg",
    "duration_min",
    "rate_cap_mg_per_h",
    "dosing_basis",
    "concentration_mg_per_ml",
    "sessions_count",
    "pattern",
    "source",
)


def _positive_or_none(
    errors: dict[str, list[str]], name: str, value: object, *, maximum: float | None = None
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.setdefault(name, []).append("Enter a number.")
    elif value <= 0:
        errors.setdefault(name, []).append("Must be greater than 0.")
    elif maximum is not None and value > maximum:
        errors.setdefault(name, []).append(f"Must be at most {show(maximum)}.")


def _template_check(template: ProtocolTemplate, limits: DoseLimits) -> None:
    """Every problem with the template, keyed by field; dose limits checked last, once the
    numbers themselves make sense."""
    errors: dict[str, list[str]] = {}
    if (template.dose_mg_per_kg is None) == (template.fixed_dose_mg is None):
        message = "Give exactly one dose: either mg/kg or a fixed dose in mg, not both."
        errors["dose_mg_per_kg"] = [message]
    _positive_or_none(errors, "dose_mg_per_kg", template.dose_mg_per_kg)
    _positive_or_none(errors, "fixed_dose_mg", template.fixed_dose_mg)
    _positive_or_none(errors, "rate_cap_mg_per_h", template.rate_cap_mg_per_h)
    _positive_or_none(
        errors,
        "concentration_mg_per_ml",
        template.concentration_mg_per_ml,
        maximum=max(dosing.CONCENTRATIONS_MG_PER_ML),
    )
    for name, low, high, unit in (
        # Gate 9: one infusion lasts 10 to 480 minutes (clinical.ceilings, product bounds).
        ("duration_min", *INFUSION_DURATION_MIN_RANGE, "minutes"),
        ("sessions_count", 1, 30, "sessions"),
    ):
        value = getattr(template, name)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = ["Enter a whole number."]
        elif not low <= value <= high:
            errors[name] = [f"Between {low} and {high} {unit}."]
    try:
        template.full_clean(validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            # Our own message for a field already says what is wrong with it.
            errors.setdefault(name, messages)
    if errors:
        raise ValidationError(errors)
    refuse_taken_name(
        ProtocolTemplate.objects.filter(clinic_id=template.clinic_id),
        template,
        "This clinic already has a template with this name.",
    )
    problem = template_limit_problem(template, limits)
    if problem is not None:
        field = "dose_mg_per_kg" if template.dose_mg_per_kg is not None else "fixed_dose_mg"
        raise ValidationError({field: f"Over the clinic's dose limits: {problem}."})


def _template_values(template: ProtocolTemplate) -> dict[str, object]:
    return {name: getattr(template, name) for name in TEMPLATE_FIELDS}


def _current_limits(clinic_id: int) -> DoseLimits:
    return clinic_policy_current(clinic_id=clinic_id).dose_limits()


@transaction.atomic
def protocol_template_create(*, actor: Actor, values: Mapping[str, object]) -> ProtocolTemplate:
    refuse_unknown(values, TEMPLATE_FIELDS)
    clinic_id = admin_clinic(actor)
    template = ProtocolTemplate(clinic_id=clinic_id, **strip(values))
    _template_check(template, _current_limits(clinic_id))
    template.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="protocol_template",
        object_id=template.pk,
        detail={"version": template.version, "new": _template_values(template)},
    )
    return template


def _template_locked(actor: Actor, template_id: int, expected_version: int) -> ProtocolTemplate:
    template = access_protocol_template(actor, template_id, for_update=True)
    require_version(template, expected_version, "protocol template")
    return template


def _template_save(
    actor: Actor, template: ProtocolTemplate, changes: dict[str, dict[str, object]]
) -> ProtocolTemplate:
    old_version = template.version
    bump_version(template)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="protocol_template",
        object_id=template.pk,
        detail={"from_version": old_version, "version": template.version, "changes": changes},
    )
    return template


@transaction.atomic
def protocol_template_update(
    *, actor: Actor, template_id: int, expected_version: int, values: Mapping[str, object]
) -> ProtocolTemplate:
    """Edit a template; refused (nothing saved) if it moved on since the form was loaded.

    Plans copied their values when they were made, so an edit never changes an existing plan.
    """
    refuse_unknown(values, TEMPLATE_FIELDS)
    template = _template_locked(actor, template_id, expected_version)
    changes = apply_changes(template, strip(values))
    if not changes:
        return template
    _template_check(template, _current_limits(template.clinic_id))
    return _template_save(actor, template, changes)


@transaction.atomic
def protocol_template_set_active(
    *, actor: Actor, template_id: int, expected_version: int, is_active: bool
) -> ProtocolTemplate:
    """Deactivate (no new plans may use it) or reactivate a template; never deleted, since plans
    name the template they came from. Reactivating checks it against today's limits."""
    template = _template_locked(actor, template_id, expected_version)
    changes = apply_changes(template, {"is_active": is_active})
    if not changes:
        return template
    if is_active:
        problem = template_limit_problem(template, _current_limits(template.clinic_id))
        if problem is not None:
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: (
                        f"This template no longer fits the clinic's dose limits ({problem}). "
                        "Edit its dose before reactivating it."
                    )
                }
            )
    return _template_save(actor, template, changes)
