"""Monitoring during and after the infusion: vitals and sedation with their alerts (gate 8),
the CADSS-6, the modified Aldrete in recovery, the acknowledgement of an alert, and adverse
events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import Action
from ketaclinic.clinical import instruments, monitoring
from ketaclinic.clinical.instruments import InvalidAnswers
from ketaclinic.clinical.monitoring import Finding, Vitals
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.infusions.models import (
    AdverseEvent,
    AdverseEventKind,
    Alert,
    AlertAction,
    ChartEntry,
    DeviationTrigger,
    EntryKind,
    InfusionSession,
    Intervention,
    Observation,
    Phase,
)
from ketaclinic.infusions.selectors import given_mg_at
from ketaclinic.infusions.services._common import (
    FIELD_LABELS,
    _audit,
    _chart_entry,
    _charted,
    _finding_dict,
    _locked,
    _now,
    _observation,
    _pain,
    _policy,
    _save,
    _scale_observation,
    _user,
    _vital_observations,
    _vitals,
)
from ketaclinic.infusions.services._deviations import _deviation_open
from ketaclinic.infusions.states import BEFORE_START


def _phase(session: InfusionSession, at: dt.datetime) -> Phase:
    if session.ended_at is not None and at > session.ended_at:
        return Phase.AFTER
    return Phase.DURING


def _scored(code: str, answers: Mapping[str, object]) -> instruments.Score:
    """An instrument's score (``clinical.instruments``), or its answers' errors by field."""
    try:
        return instruments.score(code, answers)
    except InvalidAnswers as exc:
        raise ValidationError({key: f"{message}." for key, message in exc.errors.items()}) from None


def _raise_alerts(
    session: InfusionSession,
    entry: ChartEntry,
    findings: Sequence[Finding],
    policy: ClinicPolicy,
) -> list[Alert]:
    """One alert for the reading, listing every limit it crossed (gate 8): one acknowledgement
    then records the action taken for all of them."""
    if not findings:
        return []
    first = findings[0]
    alert = Alert(
        session=session,
        entry=entry,
        code=first.code,
        field=first.field,
        message=" ".join(f.message for f in findings)[:500],
        source=" ".join(dict.fromkeys(f.source for f in findings)),
        value=first.value,
        threshold=first.threshold,
        findings=[_finding_dict(f) for f in findings],
        raised_at=entry.taken_at,
        policy_version=policy.version,
    )
    alert.save()
    session.open_alerts += 1
    return [alert]


@transaction.atomic
def vitals_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    vitals: Mapping[str, Any],
    rass: int | None = None,
    moaas: int | None = None,
    pain_nrs: int | None = None,
    note: str = "",
    time_reason: str = "",
) -> tuple[ChartEntry, list[Alert]]:
    """Vital signs and sedation during or after the infusion; alerts fire on the absolute
    limits and on a blood-pressure rise over the patient's own (pre-infusion) baseline. A dose
    already past the plan's total opens a dose deviation (gate 4)."""
    session = _locked(actor, session_id, expected_version, "vitals")
    policy = _policy(session)
    timed = _charted(
        session,
        taken_at,
        policy=policy,
        after=[(session.started_at, "the start")],
        reason=time_reason,
    )
    at = timed.at
    checked = _vitals(vitals)
    pain = _pain(pain_nrs)
    if checked.is_empty and rass is None and moaas is None and pain is None:
        raise ValidationError("Enter at least one value.")
    rules = policy.monitoring_policy()
    baseline = None
    if session.baseline_systolic_bp is not None and session.baseline_diastolic_bp is not None:
        baseline = Vitals(
            systolic_bp=session.baseline_systolic_bp, diastolic_bp=session.baseline_diastolic_bp
        )
    try:
        findings = monitoring.vital_alerts(vitals=checked, baseline=baseline, policy=rules)
        findings += monitoring.sedation_alerts(rass=rass, moaas=moaas, policy=rules)
    except InvalidAnswers as exc:
        field = "rass" if exc.code == "rass" else "moaas"
        raise ValidationError(
            {field: f"{FIELD_LABELS[field]} level is out of range: {exc.errors['level']}."}
        ) from None
    entry = _chart_entry(
        actor,
        session,
        timed,
        kind=EntryKind.VITALS,
        phase=_phase(session, at),
        note=note.strip()[:500],
    )
    rows = _vital_observations(entry, session, checked, pain)
    if rass is not None:
        rows.append(_scale_observation(entry, session, "rass", rass, {"level": rass}))
    if moaas is not None:
        rows.append(_scale_observation(entry, session, "moaas", moaas, {"level": moaas}))
    Observation.objects.bulk_create(rows)
    alerts = _raise_alerts(session, entry, findings, policy)
    # Only a full set moves the monitoring clock (gate 6); a single value is charted all the same.
    if checked.is_set and (session.last_vitals_at is None or at > session.last_vitals_at):
        session.last_vitals_at = at
    given = given_mg_at(session, session.ended_at or _now())
    _deviation_open(actor, session, given=given, trigger=DeviationTrigger.VITALS, policy=policy)
    _save(session)
    _audit(
        actor,
        session,
        "vitals",
        fields=[o.code for o in rows],
        alerts=[f.code for f in findings],
        **timed.audit,
    )
    return entry, alerts


@transaction.atomic
def cadss_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    answers: Mapping[str, object],
    time_reason: str = "",
) -> ChartEntry:
    """CADSS-6 (dissociation), scored by ``clinical.instruments``: a baseline before the start
    (after the arrival), then during and after the infusion."""
    session = _locked(actor, session_id, expected_version, "cadss")
    before = session.status in BEFORE_START
    timed = _charted(
        session,
        taken_at,
        after=[(session.arrived_at, "the arrival")]
        if before
        else [(session.started_at, "the start")],
        reason=time_reason,
    )
    at = timed.at
    result = _scored("cadss6", answers)
    entry = _chart_entry(
        actor,
        session,
        timed,
        kind=EntryKind.CADSS,
        phase=Phase.BEFORE if before else _phase(session, at),
    )
    _scale_observation(entry, session, "cadss6", result.total, answers).save()
    _save(session)
    _audit(actor, session, "cadss6", fields=["cadss6"], phase=str(entry.phase), **timed.audit)
    return entry


@transaction.atomic
def recovery_assess(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    aldrete: Mapping[str, object],
    pain_nrs: int | None = None,
    time_reason: str = "",
) -> ChartEntry:
    """The modified Aldrete score after the infusion (and the pain NRS after)."""
    session = _locked(actor, session_id, expected_version, "aldrete")
    timed = _charted(
        session, taken_at, after=[(session.ended_at, "the end of the infusion")], reason=time_reason
    )
    at = timed.at
    result = _scored("aldrete", aldrete)
    pain = _pain(pain_nrs)
    entry = _chart_entry(actor, session, timed, kind=EntryKind.RECOVERY, phase=Phase.AFTER)
    rows = [_scale_observation(entry, session, "aldrete", result.total, aldrete)]
    if pain is not None:
        rows.append(_observation(entry, session, "pain_nrs", pain))
    Observation.objects.bulk_create(rows)
    if session.aldrete_at is None or at >= session.aldrete_at:
        session.aldrete_answers = dict(aldrete)
        session.aldrete_total = int(result.total)
        session.aldrete_at = at
    _save(session)
    _audit(
        actor,
        session,
        "aldrete",
        fields=["aldrete", *(["pain_nrs"] if pain is not None else [])],
        **timed.audit,
    )
    return entry


@transaction.atomic
def alert_acknowledge(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    alert_id: uuid.UUID | str,
    action: str,
    note: str = "",
) -> Alert:
    """Close an alert with the action taken; until then it stays on the board."""
    session = _locked(actor, session_id, expected_version, "alert")
    try:
        key = uuid.UUID(str(alert_id))
    except ValueError:
        raise ValidationError({"alert": "Choose one of this session's alerts."}) from None
    alert = session.alerts.filter(public_id=key).first()
    if alert is None:
        raise ValidationError({"alert": "Choose one of this session's alerts."})
    if alert.acknowledged_at is not None:
        raise ValidationError("This alert was already acknowledged.")
    if action not in AlertAction.values:
        raise ValidationError({"action": "Choose the action taken."})
    text = note.strip()
    if action == AlertAction.MEDICATION and not text:
        raise ValidationError({"note": "Name the medication and dose given."})
    alert.acknowledged_at = _now()
    alert.acknowledged_by = _user(actor)
    alert.action = action
    alert.action_note = text[:500]
    alert.full_clean(exclude=["session", "entry", "acknowledged_by"])
    alert.save()
    session.open_alerts = max(session.open_alerts - 1, 0)
    _save(session)
    _audit(actor, session, "alert_acknowledge", alert=alert.code, taken=action)
    return alert


@transaction.atomic
def adverse_event_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    kind: str,
    severity: str,
    onset_at: dt.datetime | None,
    interventions: Sequence[str],
    outcome: str,
    note: str = "",
    time_reason: str = "",
) -> AdverseEvent:
    session = _locked(actor, session_id, expected_version, "adverse_event")
    timed = _charted(
        session,
        onset_at,
        field="onset_at",
        after=[(session.arrived_at, "the arrival")],
        reason=time_reason,
    )
    onset = timed.at
    chosen = list(dict.fromkeys(interventions))
    if not chosen:
        raise ValidationError({"interventions": "Choose what was done (or 'None needed')."})
    if Intervention.NONE in chosen and len(chosen) > 1:
        raise ValidationError({"interventions": "'None needed' cannot go with other actions."})
    unknown = [c for c in chosen if c not in Intervention.values]
    if unknown:
        raise ValidationError({"interventions": "Choose from the list."})
    text = note.strip()
    if (Intervention.OTHER in chosen or kind == AdverseEventKind.OTHER) and not text:
        raise ValidationError({"note": "Describe the event or the action in the note."})
    event = AdverseEvent(
        session=session,
        kind=kind,
        severity=severity,
        onset_at=onset,
        interventions=chosen,
        note=text[:1000],
        outcome=outcome,
        time_reason=timed.reason,
        recorded_by=_user(actor),
    )
    # Not the random public id: a query to check it is unique would find nothing (the unique
    # index stands guard).
    event.full_clean(exclude=["session", "recorded_by", "public_id"])
    event.save()
    _save(session)
    _audit(
        actor,
        session,
        "adverse_event",
        action=Action.CREATE,
        kind=kind,
        severity=severity,
        **timed.audit,
    )
    return event
