"""The dose deviation (gate 4): opened once the dose given passes the plan's total, by the pump
and by the vitals that re-check it, or by a reconciliation that differs from the charted rates."""

from __future__ import annotations

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import Action
from ketaclinic.clinical import charting, gates
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.infusions.models import DeviationTrigger, DoseDeviation, InfusionSession
from ketaclinic.infusions.services._common import _audit, _now


def _deviation_open(
    actor: Actor,
    session: InfusionSession,
    *,
    given: float,
    trigger: DeviationTrigger,
    policy: ClinicPolicy,
) -> DoseDeviation | None:
    """Gate 4: open a dose-deviation record once the dose given passes the plan's total by more
    than the clinic's tolerance (once per session; the caller saves the session's count)."""
    total = session.plan_total_mg
    if total is None or total <= 0:
        return None
    excess = charting.dose_excess(
        given_mg=given,
        plan_total_mg=total,
        percent=policy.dose_deviation_percent,
        min_mg=gates.DOSE_DEVIATION_MIN_MG,
    )
    if excess is None:
        return None
    if session.dose_deviations.exclude(trigger=DeviationTrigger.RECONCILE).exists():
        return None
    deviation = DoseDeviation(
        session=session,
        trigger=trigger,
        opened_at=_now(),
        given_mg=given,
        plan_total_mg=total,
        excess_mg=excess,
        message=(
            f"{charting.DOSE_GATE}: {given:.1f} mg given, {excess:.1f} mg past the plan's total "
            f"of {total:g} mg (tolerance {policy.dose_deviation_percent:g}% and "
            f"{gates.DOSE_DEVIATION_MIN_MG:g} mg). A physician must review it."
        ),
        policy_version=policy.version,
        policy_values=policy.snapshot(),
    )
    return _deviation_save(actor, session, deviation)


def _deviation_save(
    actor: Actor, session: InfusionSession, deviation: DoseDeviation
) -> DoseDeviation:
    """Store an opened deviation, count it on the session (the caller saves it) and audit it."""
    deviation.full_clean(exclude=["session", "reviewed_by"])
    deviation.save()
    session.open_deviations += 1
    _audit(
        actor,
        session,
        "dose_deviation_open",
        action=Action.CREATE,
        deviation=str(deviation.public_id),
        trigger=str(deviation.trigger),
        policy_version=deviation.policy_version,
    )
    return deviation
