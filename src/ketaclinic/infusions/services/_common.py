"""What every infusion service shares: the locked session, its save and audit, the charted time
(gate 7), the clinic's current policy, and the chart rows (observations) a form's values become.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import charting, codes, instruments, monitoring
from ketaclinic.clinical.instruments import InvalidAnswers
from ketaclinic.clinical.monitoring import Finding, Vitals
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.infusions.access import access_session
from ketaclinic.infusions.models import (
    ChartEntry,
    EntryKind,
    InfusionSession,
    Observation,
    Phase,
    PreInfusionCheck,
)
from ketaclinic.infusions.selectors import day_bounds
from ketaclinic.infusions.states import SessionAction, require
from ketaclinic.lib.locking import require_version

OBJECT_TYPE = "infusion_session"

# Form field -> label, to turn a clinical message that starts with a field name into a sentence.
FIELD_LABELS: Mapping[str, str] = {
    "systolic_bp": "Systolic BP",
    "diastolic_bp": "Diastolic BP",
    "heart_rate": "Heart rate",
    "spo2": "SpO2",
    "respiratory_rate": "Respiratory rate",
    "new_arrhythmia": "New arrhythmia",
    "rass": "RASS",
    "moaas": "MOAA/S",
    "pain_nrs": "Pain (0-10)",
    "rate_ml_per_h": "Rate",
    "drawn_mg": "Drawn",
    "given_mg": "Given",
    "wasted_mg": "Wasted",
    "witness": "Witness",
}

# LOINC codes of the values charted (docs/clinical-policy.md "Codes [8]"); units come from
# clinical.codes.
LOINC_OF: Mapping[str, str] = {
    "systolic_bp": "8480-6",
    "diastolic_bp": "8462-4",
    "heart_rate": "8867-4",
    "respiratory_rate": "9279-1",
    # Pulse oximetry; the FHIR export adds 2708-6 beside it (US Core pulse-oximetry profile).
    "spo2": "59408-5",
    "pain_nrs": "72514-3",
}
SCALE_SYSTEM = "ketaclinic"
SCALE_UNIT = "{score}"


def _now() -> dt.datetime:
    return timezone.now()


def _tz(session: InfusionSession) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(session.location.time_zone)


@dataclass(frozen=True)
class _Timed:
    """A charted time that passed gate 7, with what the row and the audit event keep of it."""

    at: dt.datetime
    reason: str
    audit: dict[str, Any]


def _when(
    value: dt.datetime | None,
    *,
    field: str,
    tz: zoneinfo.ZoneInfo,
    policy: ClinicPolicy,
    not_before: Sequence[tuple[dt.datetime | None, str]] = (),
    reason: str = "",
) -> _Timed:
    """The time to chart (gate 7, ``clinical.charting.charted_time``): blank is the server's
    time of saving; back-dating within the clinic's window, with a reason past a few minutes;
    never in the future, never before the events it follows."""
    if value is not None and timezone.is_naive(value):
        raise ValidationError({field: "Enter a time with its date."})
    verdict = charting.charted_time(
        entered=value,
        now=_now(),
        follows=not_before,
        reason=reason,
        backdate_max_min=policy.backdate_max_min,
        tz=tz,
    )
    if not verdict.allowed or verdict.at is None:
        raise ValidationError({field: verdict.message})
    text = reason.strip()[:300] if verdict.backdated_min else ""
    # The audit names how far back and that a reason was written; the text stays on the row.
    audit: dict[str, Any] = {}
    if verdict.backdated_min:
        audit = {"backdated_min": verdict.backdated_min, "time_reason": bool(text)}
    return _Timed(verdict.at, text, audit)


def _charted(
    session: InfusionSession,
    value: dt.datetime | None,
    *,
    after: Sequence[tuple[dt.datetime | None, str]],
    reason: str,
    field: str = "taken_at",
    policy: ClinicPolicy | None = None,
) -> _Timed:
    """``_when`` for an entry on the session's chart, at its location's clock, under the clinic's
    current policy unless the caller already holds it."""
    return _when(
        value,
        field=field,
        tz=_tz(session),
        policy=policy if policy is not None else _policy(session),
        not_before=after,
        reason=reason,
    )


def _sentence(message: str) -> str:
    """A clinical message ("systolic_bp must be ...") in the words of the form."""
    head, _, rest = message.partition(" ")
    head = head.rstrip(":")
    for code, name in FIELD_LABELS.items():
        rest = rest.replace(code, name)
    label = FIELD_LABELS.get(head)
    if label is None:
        return message
    text = f"{label} {rest}".strip()
    return text[0].upper() + text[1:]


def _clinical_error(exc: ValueError, field: str | None = None) -> ValidationError:
    """A clinical ValueError as a form error on the field it names (or on ``field``)."""
    message = str(exc)
    named = message.split(" ", 1)[0].rstrip(":")
    target = field or (named if named in FIELD_LABELS else None)
    text = _sentence(message) if field is None else message
    if target is None:
        return ValidationError(text)
    return ValidationError({target: text})


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return asdict(finding)


def _policy(session: InfusionSession) -> ClinicPolicy:
    return clinic_policy_current(clinic_id=session.clinic_id)


def _user(actor: Actor) -> User:
    if actor.user is None:
        raise Http404("Page not found")
    return actor.user


def _locked(
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    action: SessionAction | None,
    *,
    roles: frozenset[Role] | None = None,
    allow_signed: bool = False,
) -> InfusionSession:
    """The session, locked for this write, once it may be written: not signed (but for an
    addendum), still at the version the form was opened at, and, for ``action``, in a status the
    state table allows it from. ``None`` leaves the table to the caller, which checks the
    session's records first (``infusions.states``)."""
    session = access_session(actor.user, session_id, for_write=True, roles=roles, lock=True)
    if session.is_signed and not allow_signed:
        raise ValidationError(
            "This session is signed and read-only. Add an addendum to correct or complete it."
        )
    require_version(session, expected_version, "infusion session")
    if action is not None:
        require(session, action)
    return session


def _save(session: InfusionSession) -> None:
    # The row is locked (select_for_update in _locked), so a plain increment cannot race; unlike
    # lib.locking.bump_version it needs no read-back query, and full_clean checks a number.
    session.version += 1
    session.full_clean(exclude=["plan", "appointment", "chair"])
    session.save()


def _audit(
    actor: Actor,
    session: InfusionSession,
    event: str,
    *,
    action: Action = Action.UPDATE,
    **detail: Any,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=session.public_id,
        patient=session.patient,
        detail={"event": event, **detail},
    )


def _chart_entry(
    actor: Actor,
    session: InfusionSession,
    timed: _Timed,
    *,
    kind: EntryKind,
    phase: Phase,
    note: str = "",
) -> ChartEntry:
    """The chart entry at the charted time, checked and saved; its values are rows beside it."""
    entry = ChartEntry(
        session=session,
        kind=kind,
        phase=phase,
        taken_at=timed.at,
        recorded_by=_user(actor),
        note=note,
        time_reason=timed.reason,
    )
    entry.full_clean(exclude=["session", "recorded_by"])
    entry.save()
    return entry


def _ceiling_today(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> bool:
    """Gate 5: did any pre-check of this patient today read past an in-infusion alert limit?"""
    start, end = day_bounds(tz, _now())
    checks = PreInfusionCheck.objects.filter(
        session__patient_id=session.patient_id, taken_at__gte=start, taken_at__lt=end
    ).values_list("findings", flat=True)
    return any(monitoring.is_ceiling(f.get("code")) for found in checks for f in found)


def _observation(
    entry: ChartEntry, session: InfusionSession, name: str, value: int | float
) -> Observation:
    code = codes.lookup("loinc", LOINC_OF[name], field=name)
    return Observation(
        entry=entry,
        session=session,
        patient=session.patient,
        taken_at=entry.taken_at,
        system=code.system,
        code=code.code,
        display=code.display,
        value=Decimal(str(value)),
        unit=code.unit or "1",
    )


def _scale_observation(
    entry: ChartEntry,
    session: InfusionSession,
    code: str,
    total: float,
    components: Mapping[str, object],
) -> Observation:
    return Observation(
        entry=entry,
        session=session,
        patient=session.patient,
        taken_at=entry.taken_at,
        system=SCALE_SYSTEM,
        code=code,
        display=instruments.get_instrument(code).name,
        value=Decimal(str(total)),
        unit=SCALE_UNIT,
        components=dict(components),
    )


def _vitals(values: Mapping[str, Any]) -> Vitals:
    try:
        return Vitals(
            systolic_bp=values.get("systolic_bp"),
            diastolic_bp=values.get("diastolic_bp"),
            heart_rate=values.get("heart_rate"),
            spo2=values.get("spo2"),
            respiratory_rate=values.get("respiratory_rate"),
            new_arrhythmia=bool(values.get("new_arrhythmia", False)),
        )
    except ValueError as exc:
        raise _clinical_error(exc) from None


def _vital_observations(
    entry: ChartEntry, session: InfusionSession, vitals: Vitals, pain_nrs: int | None
) -> list[Observation]:
    rows = []
    for name in ("systolic_bp", "diastolic_bp", "heart_rate", "spo2", "respiratory_rate"):
        value = getattr(vitals, name)
        if value is not None:
            rows.append(_observation(entry, session, name, value))
    if pain_nrs is not None:
        rows.append(_observation(entry, session, "pain_nrs", pain_nrs))
    return rows


def _pain(value: int | None, field: str = "pain_nrs") -> int | None:
    if value is None:
        return None
    try:
        instruments.score("nrs", {"pain": value})
    except InvalidAnswers:
        raise ValidationError({field: "Pain must be a whole number from 0 to 10."}) from None
    return value
