"""Writes to a clinic's safety settings: the checks a change must pass and the next version.

Versions are rows: a change never edits the version in force, it writes the next one, so every
decision, plan and session keeps the values it was made with. This module holds what every
change goes through, whoever decides it (``clinic_policy_values_check``, ``policy_change_check``,
``policy_version_write``) and the clinic admin's direct save (``clinic_policy_update``); the
changes that wait for a second physician (gate 9) are in ``proposals``, built on these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.ceilings import changes_needing_approval, setting_check
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinical.eligibility import EligibilityPolicy
from ketaclinic.clinical.monitoring import MonitoringPolicy
from ketaclinic.clinics.access import admin_clinic, admin_user
from ketaclinic.clinics.models import Clinic, ClinicPolicy, PolicyProposal
from ketaclinic.clinics.policy_fields import ORDERED_PAIRS, POLICY_FIELDS, show
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.clinics.services._common import refuse_unknown
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.locking import lock_row, require_version

WHAT = "set of safety settings"


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


def checked_over(current: ClinicPolicy, values: Mapping[str, object]) -> dict[str, object]:
    """The full set a change would put in force: ``values`` over the version in force, checked."""
    merged: dict[str, object] = dict(_thresholds(current))
    merged.update(values)
    return clinic_policy_values_check(merged)


def lock_clinic(clinic_id: int) -> None:
    # Lock the clinic row so two people saving its settings at once queue up here; the unique
    # (clinic, version) constraint is the backstop where the database has no row locks (SQLite).
    lock_row(Clinic.objects.all(), clinic_id)


@dataclass(frozen=True)
class PolicyChange:
    """A checked change to the version in force: the full new set, the values it replaces, and
    the settings among them that wait for a second physician."""

    current: ClinicPolicy
    checked: dict[str, object]
    old: dict[str, object]
    waiting: tuple[str, ...]

    @property
    def new(self) -> dict[str, object]:
        return {name: self.checked[name] for name in self.old}


def policy_change_check(
    *, actor: Actor, clinic: Clinic, values: Mapping[str, object], based_on_version: int, note: str
) -> PolicyChange:
    """Everything a change must pass before anything is written (the caller's transaction)."""
    refuse_unknown(values, ClinicPolicy.THRESHOLD_FIELDS)
    admin_clinic(actor, clinic)
    if not note.strip():
        raise ValidationError({"note": "Say what changed and why, in a short note."})
    lock_clinic(clinic.pk)
    current = clinic_policy_current(clinic_id=clinic.pk)
    require_version(current, based_on_version, WHAT)
    checked = checked_over(current, values)
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
    return PolicyChange(current=current, checked=checked, old=old, waiting=waiting)


def policy_version_write(
    *,
    actor: Actor,
    clinic: Clinic,
    change: PolicyChange,
    author: User,
    note: str,
    proposal: PolicyProposal | None = None,
) -> ClinicPolicy:
    """Write ``change`` as the clinic's next version, with its audit event."""
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
        raise StaleObjectError(WHAT) from None
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


def _approval_refusal(change: PolicyChange) -> ValidationError:
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
    change = policy_change_check(
        actor=actor, clinic=clinic, values=values, based_on_version=based_on_version, note=note
    )
    if change.waiting:
        raise _approval_refusal(change)
    return policy_version_write(
        actor=actor, clinic=clinic, change=change, author=admin_user(actor), note=note.strip()
    )
