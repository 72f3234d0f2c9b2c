"""After the infusion: the controlled-substance reconciliation (drawn = given + wasted), the
discharge gate, a physician's review of a dose deviation, the signature, and addenda to a
signed session."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from ketaclinic.accounts.api import ConfirmedIdentity
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import Action
from ketaclinic.clinical import charting, gates, monitoring
from ketaclinic.infusions.access import SIGNERS
from ketaclinic.infusions.models import (
    ChartEntry,
    ControlledSubstanceRecord,
    DeviationTrigger,
    DoseDeviation,
    InfusionSession,
    SessionStatus,
)
from ketaclinic.infusions.selectors import given_mg_at
from ketaclinic.infusions.services._common import (
    LOINC_OF,
    _audit,
    _locked,
    _now,
    _policy,
    _save,
    _sentence,
    _tz,
    _user,
)
from ketaclinic.infusions.services._deviations import _deviation_save
from ketaclinic.infusions.states import advance, local_clock, require
from ketaclinic.scheduling.api import appointment_infusion_step
from ketaclinic.scheduling.models import AppointmentStatus


@transaction.atomic
def controlled_reconcile(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    given_mg: Decimal,
    wasted_mg: Decimal,
    witness: ConfirmedIdentity | None,
    given_reason: str = "",
) -> ControlledSubstanceRecord:
    """Close the Schedule III record: drawn = given + wasted, any waste witnessed by a second
    nurse or physician of the clinic who confirmed with their own password. "Given" must match
    the dose the charted rates give within the clinic's tolerance, or carry a reason, which
    opens a dose deviation for a physician to review (gate 4).

    The password is not checked here: the page checks it through the sign-in path, which needs
    the request (``accounts.api.confirm_identity``, rate-limited and audited), and passes the
    proof it returns; this checks the proven person may witness."""
    session = _locked(actor, session_id, expected_version, None)
    record: ControlledSubstanceRecord | None = getattr(session, "controlled_substance", None)
    if record is None:
        raise ValidationError("No ketamine was drawn for this session.")
    if record.is_reconciled:
        raise ValidationError("The controlled-substance record is already reconciled.")
    require(session, "reconcile")
    if session.status == SessionStatus.DEFERRED and given_mg != 0:
        raise ValidationError({"given_mg": "The infusion was not given: given must be 0 mg."})
    user = _user(actor)
    witnessed_by = _witness(session, user, witness) if wasted_mg > 0 else None
    try:
        monitoring.controlled_substance_check(
            drawn_mg=float(record.drawn_mg),
            given_mg=float(given_mg),
            wasted_mg=float(wasted_mg),
            witnessed=witnessed_by is not None,
        )
    except ValueError as exc:
        message = str(exc)
        field = message.split(":", 1)[0].split(" ", 1)[0]
        text = message.split(":", 1)[1].strip() if ":" in message else _sentence(message)
        raise ValidationError({field: text[0].upper() + text[1:]}) from None
    policy = _policy(session)
    computed = given_mg_at(session, session.ended_at) if session.ended_at is not None else 0.0
    mismatch = charting.reconciled_mismatch(
        entered_mg=float(given_mg),
        computed_mg=computed,
        percent=policy.dose_deviation_percent,
        min_mg=gates.DOSE_DEVIATION_MIN_MG,
    )
    why = given_reason.strip()
    if mismatch is not None and len(why) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "given_reason": f"{charting.DOSE_GATE}: given {given_mg} mg differs from the "
                f"{computed:.2f} mg the charted rates give by {mismatch:.2f} mg (tolerance "
                f"{policy.dose_deviation_percent:g}% and {gates.DOSE_DEVIATION_MIN_MG:g} mg): "
                "correct it, or write the reason (at least "
                f"{gates.MIN_REASON_LENGTH} characters); a "
                "physician then reviews it."
            }
        )
    record.given_mg = given_mg
    record.wasted_mg = wasted_mg
    record.waste_witness = witnessed_by
    record.reconciled_at = _now()
    record.reconciled_by = user
    record.given_reason = why if mismatch is not None else ""
    record.full_clean(exclude=["session", "drawn_by", "waste_witness", "reconciled_by"])
    record.save()
    if mismatch is not None:
        deviation = DoseDeviation(
            session=session,
            trigger=DeviationTrigger.RECONCILE,
            opened_at=_now(),
            given_mg=computed,
            plan_total_mg=session.plan_total_mg or 0.0,
            excess_mg=mismatch,
            entered_mg=float(given_mg),
            reason=why,
            message=(
                f"{charting.DOSE_GATE}: reconciled as {given_mg} mg given, but the charted "
                f"rates give {computed:.2f} mg ({mismatch:.2f} mg apart): {why}"
            )[:500],
            policy_version=policy.version,
            policy_values=policy.snapshot(),
        )
        _deviation_save(actor, session, deviation)
    _save(session)
    _audit(
        actor,
        session,
        "controlled_reconcile",
        fields=["given_mg", "wasted_mg", *(["waste_witness"] if witnessed_by else [])],
        witness=witnessed_by.pk if witnessed_by else None,
    )
    return record


def _witness(session: InfusionSession, user: User, proof: ConfirmedIdentity | None) -> User | None:
    """The waste's witness: a second nurse or physician of the session's clinic, active."""
    if proof is None:
        return None
    if proof.user.pk == user.pk:
        raise ValidationError(
            {"witness": "The witness must be a second person, not the one recording."}
        )
    witness = User.objects.filter(
        pk=proof.user.pk,
        clinic_id=session.clinic_id,
        role__in=(Role.NURSE, Role.PHYSICIAN),
        is_active=True,
    ).first()
    if witness is None:
        raise ValidationError({"witness": "Choose a nurse or physician of this clinic."})
    return witness


@transaction.atomic
def session_discharge(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    escort_name: str,
    escort_confirmed: bool,
) -> InfusionSession:
    """Discharge through the gate (``clinical.monitoring.discharge_check``): modified Aldrete at
    or above the clinic's minimum, the escort confirmed, the observation time since the end
    passed, and no open alert. Otherwise refused, every missing condition named."""
    session = _locked(actor, session_id, expected_version, "discharge")
    name = escort_name.strip()
    if escort_confirmed and not name:
        raise ValidationError({"escort_name": "Enter the escort's name."})
    now = _now()
    policy = _policy(session)
    gate = monitoring.discharge_check(
        aldrete_answers=session.aldrete_answers,
        escort_confirmed=bool(escort_confirmed),
        # A back-dated stop does not shorten the observation (gate 7).
        infusion_ended_at=session.observed_from or session.ended_at,
        now=now,
        policy=policy.monitoring_policy(),
    )
    errors: dict[str, list[str]] = {}
    for finding in gate.missing:
        errors.setdefault(finding.field, []).append(finding.message)
    assert session.ended_at is not None  # recovering: the stop was charted
    for finding in monitoring.discharge_vitals_missing(
        last_vitals_at=session.last_vitals_at, ended_at=session.ended_at, now=now
    ):
        errors.setdefault(finding.field, []).append(finding.message)
    if session.open_alerts:
        errors.setdefault("alerts", []).append(
            f"{session.open_alerts} alert(s) not yet acknowledged."
        )
    if session.open_deviations:
        errors.setdefault("deviations", []).append(
            f"{charting.DOSE_GATE}: {session.open_deviations} dose deviation(s) not yet reviewed "
            "by a physician."
        )
    if errors:
        raise ValidationError(errors)
    advance(session, "discharge")
    session.discharged_at = now
    session.discharged_by = _user(actor)
    session.escort_name = name[:200]
    session.escort_confirmed_at = now
    session.discharge_values = {
        "aldrete": gate.aldrete.total if gate.aldrete else None,
        "observed_min": round(gate.observed_min or 0, 1),
        "policy_version": policy.version,
        "discharge_min_aldrete": policy.discharge_min_aldrete,
        "discharge_min_observation_min": policy.discharge_min_observation_min,
        "vitals_before_discharge_min": gates.VITALS_BEFORE_DISCHARGE_MIN,
        "last_vitals_at": session.last_vitals_at.isoformat() if session.last_vitals_at else None,
    }
    _save(session)
    if session.appointment is not None:
        appointment_infusion_step(
            actor=actor, appointment=session.appointment, status=AppointmentStatus.COMPLETED
        )
    _audit(actor, session, "discharge", policy_version=policy.version)
    return session


@transaction.atomic
def session_sign(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    gap_reason: str = "",
) -> InfusionSession:
    """A physician signs the session: from then on it is read-only; corrections are addenda.
    Open dose deviations block it; vitals gaps longer than twice the interval need a written
    reason (gate 6)."""
    session = _locked(actor, session_id, expected_version, "sign", roles=SIGNERS)
    if session.open_alerts:
        raise ValidationError("Acknowledge every alert before signing.")
    if session.open_deviations:
        raise ValidationError(
            f"{charting.DOSE_GATE}: a physician must review every dose deviation before signing."
        )
    record = getattr(session, "controlled_substance", None)
    if record is not None and not record.is_reconciled:
        raise ValidationError("Reconcile the controlled-substance record before signing.")
    gaps = vitals_gaps_of(session)
    why = gap_reason.strip()
    if gaps and len(why) < gates.MIN_REASON_LENGTH:
        tz = _tz(session)
        listed = "; ".join(
            f"{local_clock(g.since, tz)} to {local_clock(g.until, tz)} ({g.minutes:.0f} min)"
            for g in gaps
        )
        raise ValidationError(
            {
                "gap_reason": f"{monitoring.MONITORING_GATE}: vitals were not charted for longer "
                f"than twice the {_policy(session).vitals_interval_min}-min interval ({listed}): "
                f"write the reason (at least {gates.MIN_REASON_LENGTH} characters) to sign."
            }
        )
    session.signed_at = _now()
    session.signed_by = _user(actor)
    session.monitoring_gap_reason = why if gaps else ""
    _save(session)
    _audit(
        actor,
        session,
        "sign",
        action=Action.SIGN,
        **({"vitals_gaps": len(gaps), "fields": ["monitoring_gap_reason"]} if gaps else {}),
    )
    return session


def vitals_gaps_of(session: InfusionSession) -> tuple[monitoring.VitalsGap, ...]:
    """The stretches of the infusion without vitals longer than twice the clinic's interval."""
    if session.started_at is None or session.ended_at is None:
        return ()
    # An entry counts when it holds every sign of the set (gate 6), as in ``vitals_record``.
    taken = list(
        ChartEntry.objects.filter(session=session, observations__code__in=_VITAL_CODES)
        .values("pk", "taken_at")
        .annotate(signs=Count("observations__code", distinct=True))
        .filter(signs=len(_VITAL_CODES))
        .values_list("taken_at", flat=True)
    )
    return monitoring.vitals_gaps(
        taken=taken,
        started_at=session.started_at,
        ended_at=session.ended_at,
        longer_than_min=2 * _policy(session).vitals_interval_min,
    )


# The codes that make a set of vitals (pain and the scales do not).
_VITAL_CODES = tuple(LOINC_OF[n] for n in monitoring.VITALS_SET)


@transaction.atomic
def dose_deviation_review(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    deviation_id: uuid.UUID | str,
    note: str,
) -> DoseDeviation:
    """A physician reviews a dose deviation with a note (audited); until then it blocks
    discharge and signing (gate 4)."""
    session = _locked(actor, session_id, expected_version, "deviation_review", roles=SIGNERS)
    try:
        key = uuid.UUID(str(deviation_id))
    except ValueError:
        raise ValidationError({"deviation": "Choose one of this session's deviations."}) from None
    deviation = session.dose_deviations.filter(public_id=key).first()
    if deviation is None:
        raise ValidationError({"deviation": "Choose one of this session's deviations."})
    if not deviation.is_open:
        raise ValidationError("This dose deviation was already reviewed.")
    text = note.strip()
    if len(text) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "note": f"{charting.DOSE_GATE}: write the review (at least "
                f"{gates.MIN_REASON_LENGTH} characters)."
            }
        )
    deviation.reviewed_at = _now()
    deviation.reviewed_by = _user(actor)
    deviation.review_note = text[:2000]
    deviation.full_clean(exclude=["session", "reviewed_by"])
    deviation.save()
    session.open_deviations = max(session.open_deviations - 1, 0)
    _save(session)
    _audit(
        actor,
        session,
        "dose_deviation_review",
        action=Action.UPDATE,
        deviation=str(deviation.public_id),
    )
    return deviation


@transaction.atomic
def addendum_add(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, text: str
) -> InfusionSession:
    session = _locked(actor, session_id, expected_version, None, allow_signed=True)
    if not session.is_signed:
        raise ValidationError("Addenda are for signed sessions; chart the entry directly.")
    body = text.strip()
    if not body:
        raise ValidationError({"text": "Write the addendum."})
    if len(body) > 4000:
        raise ValidationError({"text": "Keep an addendum under 4000 characters."})
    session.addenda.create(text=body, author=_user(actor))
    _save(session)
    _audit(actor, session, "addendum", action=Action.CREATE)
    return session
