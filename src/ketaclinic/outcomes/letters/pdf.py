"""The progress letter as a PDF (a pure read; ``letters.generation`` stores it).

A letter a referring physician can file: the clinic's letterhead (``clinics.api.clinic_brand``:
name, logo, colour, address, phone, email), the patient's name, date of birth and record number
(also in every page's footer), the date, every adverse event and alert of the sessions with the
action taken, the publications the response classes rest on, and a signature block naming the
physician (the one who asked for the letter, else the one who signed the plan).

The letter states what was observed (scores, dates, response class by the clinic's rule) and
never promises relief. The pain chart is the clinician's SVG chart, embedded in the PDF.

fpdf2 and matplotlib (its fonts, the chart) are imported when a letter is drawn, on the task
worker: a web worker imports this module when it queues a letter (``lib.tasks.enqueue`` finds
the task by name) and must not load them for that (docs/benchmarks.md "Web worker memory").
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Final

from django.db.models import Count
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinical.instruments import get_instrument
from ketaclinic.clinics.api import clinic_brand
from ketaclinic.clinics.models import Clinic
from ketaclinic.infusions.api import given_mg_at
from ketaclinic.infusions.models import AdverseEvent, Alert, InfusionSession, SessionStatus
from ketaclinic.outcomes import wording
from ketaclinic.outcomes.diary import charts
from ketaclinic.outcomes.selectors import DiaryView, diary_unaudited
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan

if TYPE_CHECKING:
    from fpdf import FPDF


log = logging.getLogger(__name__)

FONT: Final = "DejaVu"

DISCLAIMER = (
    "These are the patient's own diary scores and the clinic's records as observed. They describe "
    "the course so far and do not predict future relief."
)


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


def _safety_lines(patient: Patient) -> list[str]:
    """Every adverse event and every alert of the patient's sessions, in the order they
    happened, each with what was done (two queries, however many)."""
    events = (
        AdverseEvent.objects.filter(session__patient=patient)
        .select_related("session__location")
        .order_by("onset_at", "pk")
    )
    alerts = (
        Alert.objects.filter(session__patient=patient)
        .select_related("session__location", "acknowledged_by")
        .order_by("raised_at", "pk")
    )
    rows: list[tuple[dt.datetime, str]] = []
    # Dated in the location's time zone, like the session it happened in (an evening event in
    # New York is already the next day in UTC).
    for e in events:
        at = e.onset_at.astimezone(zoneinfo.ZoneInfo(e.session.location.time_zone))
        treated = ", ".join(e.intervention_labels()) or "none recorded"
        line = (
            f"{at:%d %b %Y %H:%M}: adverse event: {e.get_kind_display()}, "
            f"{e.get_severity_display().lower()}. Action taken: {treated}"
        )
        if e.note:
            line += f" ({e.note.rstrip('.')})"
        rows.append((e.onset_at, line + f". Outcome: {e.get_outcome_display().lower()}."))
    for a in alerts:
        at = a.raised_at.astimezone(zoneinfo.ZoneInfo(a.session.location.time_zone))
        line = f"{at:%d %b %Y %H:%M}: alert: {a.message.rstrip('.')}. "
        if a.acknowledged_at is None:
            line += "Action taken: none recorded; the alert is still open."
        else:
            line += f"Action taken: {a.get_action_display()}"
            if a.action_note:
                line += f" ({a.action_note.rstrip('.')})"
            if a.acknowledged_by is not None:
                line += f", by {a.acknowledged_by.display_name}"
            line += "."
        rows.append((a.raised_at, line))
    return [line for _, line in sorted(rows, key=lambda row: row[0])] or [
        "No adverse events or alerts recorded."
    ]


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


def _signer(patient: Patient, requested_by: User | None) -> User | None:
    """Who signs: the physician who asked for the letter, else the physician who signed the
    patient's latest plan (one query), else nobody named (a blank signature line)."""
    if requested_by is not None and requested_by.role == Role.PHYSICIAN:
        return requested_by
    plan = (
        Plan.objects.filter(patient=patient, status="signed", signed_by__isnull=False)
        .select_related("signed_by")
        .order_by("-signed_at", "-pk")
        .first()
    )
    return None if plan is None else plan.signed_by


def _logo(clinic: Clinic) -> bytes | None:
    """The clinic's logo (PNG or JPEG, checked on upload) read through the storage, or None
    when there is none or it cannot be read: a letter goes out without a logo rather than
    not at all."""
    if not clinic.logo:
        return None
    try:
        with clinic.logo.open("rb") as handle:
            return bytes(handle.read())
    except OSError:
        log.warning("Clinic %s logo unreadable; letter drawn without it", clinic.pk)
        return None


def _long(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) != 6:
        return (11, 92, 173)
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _references() -> list[str]:
    """The publications the letter's numbers rest on, cited as a reader can look them up."""
    peg = get_instrument("peg").source.split(" Total = ", 1)[0]
    return [f"[1] {clinical_outcomes.SOURCE}", f"[2] {peg}"]


def _new_letter(footer_text: str) -> FPDF:
    """An A4 letter whose running footer reads ``footer_text`` and the page (pages get
    separated; each must say whose it is). fpdf2 is imported here, when a letter is drawn."""
    from fpdf import FPDF

    class _Letter(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(FONT, size=8)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, f"{footer_text} | page {self.page_no()} of {{nb}}", align="C")

    return _Letter(format="A4")


def _fonts(pdf: FPDF) -> None:
    # DejaVu, shipped with matplotlib: Unicode names (Zoë, Łukasz), degrees and "≥" print as
    # written, where the core PDF fonts know only Latin-1.
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf.add_font(FONT, "", folder / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", folder / "DejaVuSans-Bold.ttf")


def letter_pdf(
    patient: Patient, *, now: dt.datetime | None = None, requested_by: User | None = None
) -> bytes:
    """Draw the letter (pure read; the worker stores the result)."""
    now = now or timezone.now()
    view = diary_unaudited(patient, now=now)
    brand = clinic_brand(patient.clinic_id)
    relapses = [
        o.durability.relapse_date
        for o in view.outcomes
        if o.durability is not None and o.durability.relapse_date is not None
    ]
    # No diary, no chart: an empty plot under a caption naming its lines would read as data.
    svg = (
        charts.pain_chart_svg(
            nrs=view.nrs,
            peg=view.peg,
            series=view.series,
            baseline=view.baseline,
            threshold=view.threshold,
            relapses=relapses,
            today=view.today,
            wide=True,
        )
        if view.nrs or view.peg
        else None
    )
    signer = _signer(patient, requested_by)
    pdf = _new_letter(
        f"{brand.name} | progress letter for {patient.full_name}, record {patient.mrn}"
    )
    _fonts(pdf)
    pdf.set_title(f"Progress letter: {patient.full_name}")
    pdf.set_author(brand.name)
    pdf.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    colour = _rgb(brand.colour)
    width = pdf.epw

    # Letterhead: logo and name on the left, how to reach the clinic on the right, a rule in the
    # clinic's colour under both.
    top = pdf.get_y()
    left = pdf.l_margin
    logo = _logo(patient.clinic)
    if logo is not None:
        drawn = pdf.image(io.BytesIO(logo), x=left, y=top, h=16)
        left += float(drawn.rendered_width) + 4
    pdf.set_xy(left, top + 2)
    pdf.set_font(FONT, "B", 16)
    pdf.set_text_color(*colour)
    pdf.multi_cell(width * 0.55 - (left - pdf.l_margin), 7, brand.name, align="L", new_x="LMARGIN")
    name_bottom = pdf.get_y()
    contact = [
        *brand.address_lines,
        *([f"Telephone {brand.phone}"] if brand.phone else []),
        *([brand.email] if brand.email else []),
        brand.site_url,
    ]
    pdf.set_text_color(60, 60, 60)
    pdf.set_font(FONT, size=8.5)
    pdf.set_xy(pdf.l_margin + width * 0.55, top)
    pdf.multi_cell(width * 0.45, 4, "\n".join(contact), align="R", new_x="LMARGIN")
    bottom = max(pdf.get_y(), name_bottom, top + (16 if logo is not None else 0)) + 3
    pdf.set_draw_color(*colour)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, bottom, pdf.l_margin + width, bottom)
    pdf.set_y(bottom + 5)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT, size=10)

    def para(text: str, *, bold: bool = False, gap: float = 0) -> None:
        pdf.set_font(FONT, "B" if bold else "", 10)
        pdf.multi_cell(0, 5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=10)
        if gap:
            pdf.ln(gap)

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font(FONT, "B", 12)
        pdf.set_text_color(*colour)
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, size=10)

    para(_long(view.today), gap=3)
    referrer = patient.referring_physician.strip()
    para(referrer or "The referring physician")
    if patient.referring_physician_email:
        para(patient.referring_physician_email)
    pdf.ln(3)
    para(
        f"Re: {patient.full_name}, date of birth {_long(patient.date_of_birth)}, "
        f"record number {patient.mrn}",
        bold=True,
        gap=3,
    )
    para(f"Dear {referrer or 'colleague'},", gap=2)
    para(
        f"Thank you for referring this patient to {brand.name}. This letter summarises the "
        f"ketamine infusion treatment given here and the patient's pain diary, as recorded up to "
        f"{_long(view.today)}."
    )
    heading("Treatment plan")
    for line in _plan_lines(patient):
        para(line)
    heading("Infusion sessions")
    for line in _session_lines(patient, now=now):
        para(line)
    heading("Adverse events and alerts")
    for line in _safety_lines(patient):
        para(line)
    heading("Observed response")
    for line in _response_lines(view):
        para(line)
    # The chart's heading and caption stay on the page with the chart.
    chart_height = width * charts.CLINICIAN_LAYOUT.height_in / charts.CLINICIAN_LAYOUT.width_in
    if svg is not None and pdf.get_y() + 22 + chart_height > pdf.page_break_trigger:
        pdf.add_page()
    heading("Pain diary")
    if svg is None:
        para("The patient has recorded no daily pain scores and no weekly PEG scores [2].")
    else:
        para(
            f"{_plural(len(view.nrs), 'daily pain score')} and "
            f"{_plural(len(view.peg), 'weekly PEG score')} [2] recorded. Red lines mark "
            "infusions; the dashed line is the baseline, the dotted line the relapse level."
        )
        pdf.image(io.BytesIO(svg.encode()), w=width)
    pdf.ln(2)
    para(DISCLAIMER)
    heading("References")
    pdf.set_font(FONT, size=8.5)
    for line in _references():
        pdf.multi_cell(0, 4.2, line, align="L", new_x="LMARGIN", new_y="NEXT")
    # The signature block is kept whole on one page.
    if pdf.get_y() > pdf.page_break_trigger - 45:
        pdf.add_page()
    pdf.ln(6)
    para("Yours sincerely,", gap=16)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.3)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 70, pdf.get_y())
    pdf.ln(2)
    para(signer.display_name if signer is not None else "Treating physician", bold=True)
    para(f"Physician, {brand.name}")
    reach = " | ".join(part for part in (brand.phone, brand.email) if part)
    if reach:
        para(reach)
    return bytes(pdf.output())
