"""Writes to a clinic's set-up: locations, chairs, protocol templates and safety-policy versions.

Each write is one transaction with its audit event. Set-up holds no patient data, so the audit
detail records the old and new values themselves (who changed the dose limit from what to what
is the point of the trail). Bad input raises ``ValidationError`` keyed by the field, before
anything is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical import dosing
from ketaclinic.clinical.ceilings import (
    INFUSION_DURATION_MIN_RANGE,
    changes_needing_approval,
    setting_check,
)
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinical.eligibility import EligibilityPolicy
from ketaclinic.clinical.monitoring import MonitoringPolicy
from ketaclinic.clinical.protocols import PROTOCOL_TEMPLATES
from ketaclinic.clinics.access import (
    access_chair,
    access_location,
    access_policy_proposal,
    access_protocol_template,
    admin_clinic,
    admin_user,
    physician_user,
)
from ketaclinic.clinics.models import (
    Chair,
    Clinic,
    ClinicPolicy,
    Location,
    PolicyProposal,
    ProposalStatus,
    ProtocolTemplate,
)
from ketaclinic.clinics.policy_fields import ORDERED_PAIRS, POLICY_FIELDS, show
from ketaclinic.clinics.selectors import clinic_policy_current, template_limit_problem
from ketaclinic.lib.forms import StaleObjectError


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


# --- shared helpers ---------------------------------------------------------------------------


def _refuse_unknown(values: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    # A programming error, not bad input: forms only send the fields they know.
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"{unknown[0]}: this field cannot be changed here")


def _apply(instance: Any, values: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Set the values; return {field: {"old", "new"}} for those that changed."""
    changes: dict[str, dict[str, object]] = {}
    for name, value in values.items():
        old = getattr(instance, name)
        if old != value:
            setattr(instance, name, value)
            changes[name] = {"old": old, "new": value}
    return changes


def _strip(values: Mapping[str, object]) -> dict[str, object]:
    return {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}


# --- locations and chairs ---------------------------------------------------------------------

LOCATION_FIELDS = ("name", "address", "city", "region", "time_zone", "phone", "email")


def _location_name_free(location: Location) -> None:
    taken = Location.objects.filter(clinic_id=location.clinic_id, name__iexact=location.name)
    if location.pk is not None:
        taken = taken.exclude(pk=location.pk)
    if taken.exists():
        raise ValidationError({"name": "This clinic already has a location with this name."})


@transaction.atomic
def location_create(*, actor: Actor, values: Mapping[str, object]) -> Location:
    _refuse_unknown(values, LOCATION_FIELDS)
    location = Location(clinic_id=admin_clinic(actor), **_strip(values))
    location.email = location.email.lower()
    _location_name_free(location)
    location.full_clean()
    location.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="location",
        object_id=location.pk,
        detail={"new": {name: getattr(location, name) for name in LOCATION_FIELDS}},
    )
    return location


@transaction.atomic
def location_update(*, actor: Actor, location_id: int, values: Mapping[str, object]) -> Location:
    _refuse_unknown(values, LOCATION_FIELDS)
    location = access_location(actor, location_id, for_update=True)
    cleaned = _strip(values)
    if isinstance(cleaned.get("email"), str):
        cleaned["email"] = str(cleaned["email"]).lower()
    changes = _apply(location, cleaned)
    if not changes:
        return location
    _location_name_free(location)
    location.full_clean()
    location.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="location",
        object_id=location.pk,
        detail={"changes": changes},
    )
    return location


def _chair_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the chair a name, e.g. Chair 3."})
    return name


def _chair_name_free(chair: Chair) -> None:
    taken = Chair.objects.filter(location_id=chair.location_id, name__iexact=chair.name)
    if chair.pk is not None:
        taken = taken.exclude(pk=chair.pk)
    if taken.exists():
        raise ValidationError({"name": "This location already has a chair with this name."})


@transaction.atomic
def chair_create(*, actor: Actor, location_id: int, name: str) -> Chair:
    location = access_location(actor, location_id)
    chair = Chair(location=location, name=_chair_name(name))
    _chair_name_free(chair)
    chair.full_clean()
    chair.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="chair",
        object_id=chair.pk,
        detail={"location": location.pk, "new": {"name": chair.name, "is_active": True}},
    )
    return chair


@transaction.atomic
def chair_rename(*, actor: Actor, chair_id: int, name: str) -> Chair:
    chair = access_chair(actor, chair_id, for_update=True)
    changes = _apply(chair, {"name": _chair_name(name)})
    if not changes:
        return chair
    _chair_name_free(chair)
    chair.full_clean()
    chair.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="chair",
        object_id=chair.pk,
        detail={"location": chair.location_id, "changes": changes},
    )
    return chair


@transaction.atomic
def chair_set_active(*, actor: Actor, chair_id: int, is_active: bool) -> Chair:
    """Deactivate or reactivate a chair. Chairs are never deleted: sessions refer to them, and
    deactivating is the step an admin can undo."""
    chair = access_chair(actor, chair_id, for_update=True)
    changes = _apply(chair, {"is_active": is_active})
    if not changes:
        return chair
    chair.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="chair",
        object_id=chair.pk,
        detail={"location": chair.location_id, "changes": changes},
    )
    return chair


# --- protocol templates -----------------------------------------------------------------------

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
    taken = ProtocolTemplate.objects.filter(
        clinic_id=template.clinic_id, name__iexact=template.name
    )
    if template.pk is not None:
        taken = taken.exclude(pk=template.pk)
    if taken.exists():
        raise ValidationError({"name": "This clinic already has a template with this name."})
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
    _refuse_unknown(values, TEMPLATE_FIELDS)
    clinic_id = admin_clinic(actor)
    template = ProtocolTemplate(clinic_id=clinic_id, **_strip(values))
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
    if template.version != expected_version:
        raise StaleObjectError("protocol template")
    return template


def _template_save(
    actor: Actor, template: ProtocolTemplate, changes: dict[str, dict[str, object]]
) -> ProtocolTemplate:
    old_version = template.version
    # F() so two writers that somehow both passed the check still cannot both land on one number.
    template.version = F("version") + 1
    template.save()
    template.refresh_from_db()
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
    _refuse_unknown(values, TEMPLATE_FIELDS)
    template = _template_locked(actor, template_id, expected_version)
    changes = _apply(template, _strip(values))
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
    changes = _apply(template, {"is_active": is_active})
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


# --- safety policy ----------------------------------------------------------------------------


def _policy_number(name: str, value: object) -> tuple[int | float | None, str | None]:
    """The value as the setting stores it, or the problem in the words of the settings page; the
    bounds are clinical.ceilings' (gate 9)."""
    spec = POLICY_FIELDS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, "Enter a number."
    if isinstance(value, float) and not math.isfinite(value):
        return None, "Enter a number."
    if spec.integer and isinstance(value, float) and not value.is_integer():
        return None, "Enter a whole number."
    try:
        return setting_check(name, value), None
    except ValueError:
        limit = "ketaclinic's ceiling" if value > spec.maximum else "ketaclinic's floor"
        return None, (
            f"Must be between {show(spec.minimum)} and {show(spec.maximum)} {spec.unit} "
            f"({limit}); got {show(value)}."
        )


def _clinical_check(errors: dict[str, list[str]], values: dict[str, object]) -> None:
    """Let the clinical core refuse what it refuses, and keep its message under the field it
    names (its messages start with the field name)."""
    for cls in (EligibilityPolicy, DoseLimits, MonitoringPolicy):
        names = list(cls.__dataclass_fields__)
        try:
            cls(**{name: values[name] for name in names})  # type: ignore[arg-type]
        except ValueError as exc:
            message = str(exc)
            field = next((n for n in names if message.startswith(n)), NON_FIELD_ERRORS)
            errors.setdefault(field, []).append(message)


def clinic_policy_values_check(values: Mapping[str, object]) -> dict[str, object]:
    """The complete set of thresholds, checked and converted (ints stay ints); ValidationError
    listing every bad field otherwise."""
    errors: dict[str, list[str]] = {}
    checked: dict[str, object] = {}
    for name in ClinicPolicy.THRESHOLD_FIELDS:
        if name not in values:
            errors.setdefault(name, []).append("This setting is required.")
            continue
        value, problem = _policy_number(name, values[name])
        if problem is not None:
            errors.setdefault(name, []).append(problem)
        else:
            checked[name] = value
    if errors:
        raise ValidationError(errors)
    for lower, upper, blamed in ORDERED_PAIRS:
        low, high = checked[lower], checked[upper]
        assert isinstance(low, int | float)
        assert isinstance(high, int | float)
        if low > high:
            errors.setdefault(blamed, []).append(
                f"{POLICY_FIELDS[lower].label} ({show(low)}) must not be above "
                f"{POLICY_FIELDS[upper].label.lower()} ({show(high)})."
            )
    _clinical_check(errors, checked)
    if errors:
        raise ValidationError(errors)
    return checked


def _thresholds(policy: ClinicPolicy) -> dict[str, float]:
    return {name: getattr(policy, name) for name in ClinicPolicy.THRESHOLD_FIELDS}


@dataclass(frozen=True)
class _PolicyChange:
    """A checked change to the version in force: the full new set, the values it replaces, and
    the settings among them that wait for a second physician."""

    current: ClinicPolicy
    checked: dict[str, object]
    old: dict[str, object]
    waiting: tuple[str, ...]

    @property
    def new(self) -> dict[str, object]:
        return {name: self.checked[name] for name in self.old}


def _policy_change(
    *, actor: Actor, clinic: Clinic, values: Mapping[str, object], based_on_version: int, note: str
) -> _PolicyChange:
    """Everything a change must pass before anything is written (the caller's transaction)."""
    _refuse_unknown(values, ClinicPolicy.THRESHOLD_FIELDS)
    admin_clinic(actor, clinic)
    if not note.strip():
        raise ValidationError({"note": "Say what changed and why, in a short note."})
    # Lock the clinic row so two admins saving at once queue up here; the unique (clinic,
    # version) constraint is the backstop where the database has no row locks (SQLite).
    Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
    current = clinic_policy_current(clinic_id=clinic.pk)
    if current.version != based_on_version:
        raise StaleObjectError("set of safety settings")
    merged: dict[str, object] = dict(_thresholds(current))
    merged.update(values)
    checked = clinic_policy_values_check(merged)
    old = {
        n: getattr(current, n)
        for n in ClinicPolicy.THRESHOLD_FIELDS
        if checked[n] != getattr(current, n)
    }
    if not old:
        raise ValidationError(
            "No setting was changed, so no new version was saved.", code="unchanged"
        )
    new = {name: checked[name] for name in old}
    waiting = changes_needing_approval(_thresholds(current), new)  # type: ignore[arg-type]
    return _PolicyChange(current=current, checked=checked, old=old, waiting=waiting)


def _policy_version_write(
    *,
    actor: Actor,
    clinic: Clinic,
    change: _PolicyChange,
    author: User,
    note: str,
    proposal: PolicyProposal | None = None,
) -> ClinicPolicy:
    policy = ClinicPolicy(
        clinic=clinic,
        version=change.current.version + 1,
        created_by=author,
        change_note=note,
        **change.checked,
    )
    # The version number is this function's to choose; a clash with another row is a race,
    # reported as a stale form below rather than as a field error.
    policy.full_clean(exclude=["version"])
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise StaleObjectError("set of safety settings") from None
    detail: dict[str, object] = {
        "version": policy.version,
        "based_on_version": change.current.version,
        "note": note,
        "old": change.old,
        "new": change.new,
    }
    if proposal is not None:
        detail.update(proposal=proposal.pk, proposed_by=author.pk)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="clinic_policy",
        object_id=policy.pk,
        clinic=clinic,
        detail=detail,
    )
    return policy


def _approval_refusal(change: _PolicyChange) -> ValidationError:
    return ValidationError(
        {
            name: (
                f"{POLICY_FIELDS[name].needs_approval} Propose the change "
                f"({show(change.old[name])} to {show(change.checked[name])} "
                f"{POLICY_FIELDS[name].unit}); version {change.current.version} stays in force "
                "until then."
            )
            for name in change.waiting
        }
    )


@transaction.atomic
def clinic_policy_update(
    *,
    actor: Actor,
    clinic: Clinic,
    values: Mapping[str, object],
    based_on_version: int,
    note: str,
) -> ClinicPolicy:
    """Write the clinic's next safety-policy version; earlier versions are never edited.

    ``values`` may hold some or all thresholds; the rest carry over. Refused, with nothing
    written, when the form was based on an older version, when a value is out of its bounds,
    when nothing changed, or when a change needs a second physician's approval (gate 9: raising
    a dose limit above its default, changing a discharge or monitoring value; those go through
    ``policy_proposal_create``).
    """
    change = _policy_change(
        actor=actor, clinic=clinic, values=values, based_on_version=based_on_version, note=note
    )
    if change.waiting:
        raise _approval_refusal(change)
    return _policy_version_write(
        actor=actor, clinic=clinic, change=change, author=admin_user(actor), note=note.strip()
    )


def _proposal_write(
    *, actor: Actor, clinic: Clinic, change: _PolicyChange, note: str
) -> PolicyProposal:
    proposal = PolicyProposal(
        clinic=clinic,
        based_on_version=change.current.version,
        values=change.new,
        old_values=change.old,
        waiting_on=list(change.waiting),
        note=note,
        proposed_by=admin_user(actor),
    )
    proposal.full_clean()
    proposal.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="clinic_policy_proposal",
        object_id=proposal.pk,
        clinic=clinic,
        detail={
            "based_on_version": change.current.version,
            "note": note,
            "old": change.old,
            "new": change.new,
            "waiting_on": list(change.waiting),
        },
    )
    return proposal


@transaction.atomic
def policy_proposal_create(
    *,
    actor: Actor,
    clinic: Clinic,
    values: Mapping[str, object],
    based_on_version: int,
    note: str,
) -> PolicyProposal:
    """Save a change to the safety settings as a proposal; the version in force stays in force
    until a second physician approves it (``policy_proposal_approve``). Checked like
    ``clinic_policy_update``, with nothing written on a refusal."""
    change = _policy_change(
        actor=actor, clinic=clinic, values=values, based_on_version=based_on_version, note=note
    )
    return _proposal_write(actor=actor, clinic=clinic, change=change, note=note.strip())


@transaction.atomic
def clinic_policy_change(
    *,
    actor: Actor,
    clinic: Clinic,
    values: Mapping[str, object],
    based_on_version: int,
    note: str,
) -> ClinicPolicy | PolicyProposal:
    """What the settings form saves: the next version when every change may take effect at
    once, else the whole change as one proposal for a second physician (gate 9)."""
    change = _policy_change(
        actor=actor, clinic=clinic, values=values, based_on_version=based_on_version, note=note
    )
    if change.waiting:
        return _proposal_write(actor=actor, clinic=clinic, change=change, note=note.strip())
    return _policy_version_write(
        actor=actor, clinic=clinic, change=change, author=admin_user(actor), note=note.strip()
    )


def _proposal_pending(proposal: PolicyProposal) -> None:
    if proposal.status != ProposalStatus.PENDING:
        raise ValidationError(
            {"proposal": f"This change was already {proposal.get_status_display().lower()}."}
        )


@transaction.atomic
def policy_proposal_approve(*, actor: Actor, proposal_id: int, note: str = "") -> ClinicPolicy:
    """A second physician approves a proposed change: the next version is written with it.

    Refused, with nothing written, for anyone but an active physician of the clinic (404), for
    the proposer, for a proposal already decided, and for one made on a version that is no
    longer in force (it would undo the changes saved since; the admin proposes again).
    """
    approver = physician_user(actor)
    assert approver.clinic_id is not None
    Clinic.objects.select_for_update().filter(pk=approver.clinic_id).first()
    proposal = access_policy_proposal(actor, proposal_id)
    _proposal_pending(proposal)
    if proposal.proposed_by_id == approver.pk:
        raise ValidationError(
            {"proposal": "You proposed this change: another physician must approve it."}
        )
    current = clinic_policy_current(clinic_id=proposal.clinic_id)
    if current.version != proposal.based_on_version:
        raise ValidationError(
            {
                "proposal": (
                    f"This change was proposed on version {proposal.based_on_version}, and "
                    f"version {current.version} is in force now: it cannot be approved. Decline "
                    "it; the clinic admin may propose it again on the current settings."
                )
            }
        )
    merged: dict[str, object] = dict(_thresholds(current))
    merged.update(proposal.values)
    checked = clinic_policy_values_check(merged)
    old = {n: getattr(current, n) for n in ClinicPolicy.THRESHOLD_FIELDS if n in proposal.values}
    change = _PolicyChange(
        current=current,
        checked=checked,
        old=old,
        waiting=tuple(proposal.waiting_on),
    )
    policy = _policy_version_write(
        actor=actor,
        clinic=proposal.clinic,
        change=change,
        author=proposal.proposed_by,
        note=proposal.note,
        proposal=proposal,
    )
    proposal.status = ProposalStatus.APPROVED
    proposal.decided_by = approver
    proposal.decided_at = timezone.now()
    proposal.decision_note = note.strip()
    proposal.result = policy
    proposal.full_clean()
    proposal.save()
    audit_record(
        actor=actor,
        action=Action.SIGN,
        object_type="clinic_policy_proposal",
        object_id=proposal.pk,
        clinic=proposal.clinic,
        detail={"status": "approved", "version": policy.version, "note": proposal.decision_note},
    )
    return policy


@transaction.atomic
def policy_proposal_decline(*, actor: Actor, proposal_id: int, reason: str) -> PolicyProposal:
    """A physician declines a proposed change, with a reason; the settings stay as they are."""
    decider = physician_user(actor)
    proposal = access_policy_proposal(actor, proposal_id)
    _proposal_pending(proposal)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the change is declined, in a short note."})
    proposal.status = ProposalStatus.DECLINED
    proposal.decided_by = decider
    proposal.decided_at = timezone.now()
    proposal.decision_note = reason
    proposal.full_clean()
    proposal.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="clinic_policy_proposal",
        object_id=proposal.pk,
        clinic=proposal.clinic,
        detail={"status": "declined", "note": reason},
    )
    return proposal
