"""The progress letter as a PDF (a pure read; ``letters.generation`` stores it).

The letter states what was observed (scores, dates, response class by the clinic's rule) and
never promises relief. The pain chart is the same SVG the chart page shows, embedded in the PDF.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

from django.db.models import Count
from django.utils import timezone
from fpdf import FPDF

from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.infusions.api import given_mg_at
from ketaclinic.infusions.models import AdverseEvent, InfusionSession, SessionStatus
from ketaclinic.outcomes import wording
from ketaclinic.outcomes.diary import charts
from ketaclinic.outcomes.selectors import DiaryView, diary_unaudited
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol

DISCLAIMER = (
    "These are the patient's own diary scores and the clinic's records as observed. They describe "
    "the course so far and do not predict future relief."
)


def _text(value: str) -> str:
    # The core PDF fonts are Latin-1: anything else is replaced rather than failing the letter.
    value = value.replace("\u2265", ">=").replace("\u2264", "<=").replace("\u2013", "-")
    return value.encode("latin-1", "replace").decode("latin-1")


def _plan_lines(patient: Patient) -> list[str]:
    protocol = (
        KetamineProtocol.objects.filter(plan__patient=patient, plan__status="signed")
        .select_related("plan")
        .order_by("-plan__signed_at", "-pk")
        .first()
    )
    if protocol is None:
        return ["No signed treatment plan on record."]
    plan = protocol.plan
    assert plan.signed_at is not None
    dose = (
        f"{protocol.dose_mg_per_kg:g} mg/kg"
        if protocol.dose_mg_per_kg is not None
        else f"{protocol.fixed_dose_mg:g} mg"
    )
    return [
        f"Plan {plan.number}, signed {plan.signed_at:%d %B %Y}.",
        f"Ketamine {dose} ({protocol.total_mg:g} mg) over {protocol.duration_min} minutes, "
        f"{protocol.sessions_count} sessions ({protocol.get_pattern_display()}).",
    ]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _mg(value: float) -> str:
    return f"{round(value, 1):g} mg"


def _session_lines(patient: Patient, *, now: dt.datetime) -> list[str]:
    """The infusion sessions as charted on the infusion day (one query, however many).

    Sessions, not appointments: a booked or "completed" appointment says nothing about what was
    given, while the session records the start, the stop and the pump's running total. The
    adverse events themselves are listed under their own heading (``_adverse_lines``); a session
    line only points to them.
    """
    sessions = list(
        InfusionSession.objects.filter(patient=patient)
        .select_related("location")
        .annotate(adverse_count=Count("adverse_events"))
        .order_by("arrived_at", "pk")
    )
    if not sessions:
        return ["No infusion sessions on record."]
    given = sum(1 for s in sessions if s.started_at is not None)
    deferred = sum(1 for s in sessions if s.status == SessionStatus.DEFERRED)
    summary = f"{_plural(given, 'infusion session')} given"
    if deferred:
        summary += f", {deferred} deferred"
    lines = [summary + "."]
    for s in sessions:
        zone = zoneinfo.ZoneInfo(s.location.time_zone)
        day = (s.started_at or s.arrived_at).astimezone(zone)
        head = f"{day:%d %b %Y}, {s.location.name}: "
        if s.status == SessionStatus.DEFERRED:
            line = head + "deferred before the start; no ketamine given."
        elif s.started_at is None:
            line = head + f"{s.get_status_display().lower()}; the infusion has not started."
        else:
            line = head + s.get_status_display().lower()
            if s.ended_at is None:
                line += " (in progress)"
            # The running total is only kept from the pump rates entered at the start and after;
            # without them (a record imported without rates) the dose is unknown, not zero.
            if s.rate_since is not None:
                line += f"; ketamine {_mg(given_mg_at(s, s.ended_at or now))} given"
                if s.ended_at is None:
                    line += " so far"
            else:
                line += "; dose given not recorded"
            if s.plan_total_mg is not None:
                line += f" (planned {_mg(s.plan_total_mg)})"
            if s.ended_at is not None:
                minutes = round((s.ended_at - s.started_at).total_seconds() / 60)
                line += f", infused over {minutes} min"
            line += "."
        if s.adverse_count:
            line += f" {_plural(s.adverse_count, 'adverse event')}, see below."
        lines.append(line)
    return lines


def _adverse_lines(patient: Patient) -> list[str]:
    events = (
        AdverseEvent.objects.filter(session__patient=patient)
        .select_related("session__location")
        .order_by("onset_at", "pk")
    )
    # Dated in the location's time zone, like the session it happened in (an evening event in
    # New York is already the next day in UTC).
    lines = [
        f"{e.onset_at.astimezone(zoneinfo.ZoneInfo(e.session.location.time_zone)):%d %b %Y}: "
        f"{e.get_kind_display()}, {e.get_severity_display().lower()}; "
        f"outcome: {e.get_outcome_display().lower()}"
        for e in events
    ]
    return lines or ["No adverse events recorded."]


def _response_lines(view: DiaryView) -> list[str]:
    if view.baseline is None:
        return ["No baseline pain score is available, so the response cannot be classified."]
    lines = [f"Baseline pain (0-10): {view.baseline:.1f} ({view.baseline_source or 'n/a'})."]
    for o in view.outcomes:
        head = f"Series {o.number} ({o.span.start:%d %b %Y} - {o.span.end:%d %b %Y}): "
        if o.span.ongoing:
            lines.append(head + "ongoing.")
            continue
        if o.response is None or o.followup is None:
            lines.append(head + "not enough diary days to classify the response.")
            continue
        words = wording.CLINICIAN_CLASS.get(o.response, o.response)
        line = head + f"mean pain in the week after {o.followup:.1f}; observed response: {words}."
        if o.durability is not None and o.durability.relapse_date is not None:
            line += (
                f" Pain returned above 70% of baseline from {o.durability.relapse_date:%d %b %Y}."
            )
        lines.append(line)
    return lines


def letter_pdf(patient: Patient, *, now: dt.datetime | None = None) -> bytes:
    """Draw the letter (pure read; the worker stores the result)."""
    now = now or timezone.now()
    view = diary_unaudited(patient, now=now)
    relapses = [
        o.durability.relapse_date
        for o in view.outcomes
        if o.durability is not None and o.durability.relapse_date is not None
    ]
    svg = charts.pain_chart_svg(
        nrs=view.nrs,
        peg=view.peg,
        series=view.series,
        baseline=view.baseline,
        threshold=view.threshold,
        relapses=relapses,
        today=view.today,
    )
    pdf = FPDF(format="A4")
    pdf.set_title("Progress letter")
    pdf.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(
        0, 10, _text(f"Progress letter - {patient.clinic.name}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", size=10)

    def para(text: str) -> None:
        pdf.multi_cell(0, 5, _text(text), new_x="LMARGIN", new_y="NEXT")

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 7, _text(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)

    para(f"Date: {view.today:%d %B %Y}")
    para(f"To: {patient.referring_physician or 'the referring physician'}")
    para(f"Re: {patient.full_name}, born {patient.date_of_birth:%d %B %Y}, record {patient.mrn}")
    heading("Treatment plan")
    for line in _plan_lines(patient):
        para(line)
    heading("Infusion sessions")
    for line in _session_lines(patient, now=now):
        para(line)
    heading("Pain diary")
    para(
        f"{len(view.nrs)} daily pain scores and {len(view.peg)} weekly PEG scores recorded. "
        "Red lines mark infusions; the dashed line is the baseline."
    )
    pdf.image(io.BytesIO(svg.encode()), w=170)
    heading("Observed response")
    for line in _response_lines(view):
        para(line)
    para(f"Rule: {clinical_outcomes.SOURCE}")
    heading("Adverse events")
    for line in _adverse_lines(patient):
        para(line)
    pdf.ln(3)
    para(DISCLAIMER)
    return bytes(pdf.output())
