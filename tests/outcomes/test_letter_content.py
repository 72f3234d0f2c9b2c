"""The progress letter a referring physician would accept (issue 16, item 8): the clinic's
letterhead, the patient's identifiers, the date, every adverse event and alert with the action
taken, publications cited (not files) and a signature block naming the physician."""

from __future__ import annotations

import datetime as dt
import io
import re

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from ketaclinic.accounts.models import User
from ketaclinic.infusions.models import AdverseEvent, Alert, InfusionSession
from ketaclinic.outcomes.letters.pdf import letter_pdf
from ketaclinic.patients.models import Patient
from tests.clock import NEW_YORK
from tests.conftest import World
from tests.factories.infusions import bare_session
from tests.factories.outcomes import relapse_history
from tests.factories.plans import signed


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _branded(world: World) -> None:
    clinic = world.clinic
    clinic.postal_address = "2500 Lakeshore Blvd, Suite 4\nCleveland, OH 44114"
    clinic.phone = "216-555-0142"
    clinic.public_email = "care@lakeshore.example"
    clinic.brand_colour = "#0b5cad"
    buffer = io.BytesIO()
    Image.new("RGB", (120, 60), (11, 92, 173)).save(buffer, format="PNG")
    clinic.logo.save("logo.png", ContentFile(buffer.getvalue()), save=False)
    clinic.save()
    cache.clear()  # the brand is cached per clinic; the settings service would forget it


def _session(world: World) -> InfusionSession:
    start = timezone.now() - dt.timedelta(days=6)
    return bare_session(
        world,
        world.alice_patient,
        None,
        status="discharged",
        started_at=start,
        ended_at=start + dt.timedelta(minutes=40),
        discharged_at=start + dt.timedelta(minutes=80),
        discharged_by=world.nurse,
    )


def _bp_alert(world: World, session: InfusionSession, *, treated: bool) -> Alert:
    assert session.started_at is not None
    raised = session.started_at + dt.timedelta(minutes=25)
    return Alert.objects.create(
        session=session,
        code="bp_systolic_high",
        field="bp_systolic",
        message="Systolic blood pressure 182 mmHg is above 180 mmHg",
        source="Clinic policy",
        value=182,
        threshold=180,
        raised_at=raised,
        policy_version=1,
        acknowledged_at=raised + dt.timedelta(minutes=3) if treated else None,
        acknowledged_by=world.physician if treated else None,
        action="medication" if treated else "",
        action_note="Clonidine 0.1 mg by mouth" if treated else "",
    )


def test_the_letter_has_letterhead_identifiers_date_and_signature(world: World) -> None:
    _branded(world)
    relapse_history(world, world.alice_patient)
    patient = Patient.objects.select_related("clinic").get(pk=world.alice_patient.pk)
    patient.referring_physician = "Dr. Samuel Byrne"
    patient.save()
    now = timezone.now()
    text = _text(letter_pdf(patient, now=now, requested_by=world.physician))
    head = text.split("Re:", 1)[0]
    # The letterhead: the clinic's name, address, phone and email, before anything else.
    for part in (
        world.clinic.name,
        "2500 Lakeshore Blvd, Suite 4",
        "Cleveland, OH 44114",
        "Telephone 216-555-0142",
        "care@lakeshore.example",
    ):
        assert part in head
    day = timezone.localtime(now, NEW_YORK).date()
    assert f"{day.day} {day:%B %Y}" in head
    assert (
        f"Re: {patient.full_name}, date of birth {patient.date_of_birth.day} "
        f"{patient.date_of_birth:%B %Y}, "
        f"record number {patient.mrn}"
    ) in text
    assert "Dear Dr. Samuel Byrne," in text
    # Every page says whose letter it is.
    assert text.count(f"progress letter for {patient.full_name}, record {patient.mrn}") == len(
        PdfReader(io.BytesIO(letter_pdf(patient, now=now))).pages
    )
    signature = text.split("Yours sincerely,", 1)[1]
    assert signature.startswith(f" {world.physician.display_name} Physician, {world.clinic.name}")
    assert "216-555-0142 | care@lakeshore.example" in signature


def test_the_logo_is_drawn_in_the_letterhead(world: World) -> None:
    patient = Patient.objects.select_related("clinic").get(pk=world.alice_patient.pk)
    bare = PdfReader(io.BytesIO(letter_pdf(patient))).pages[0]
    _branded(world)
    patient = Patient.objects.select_related("clinic").get(pk=world.alice_patient.pk)
    page = PdfReader(io.BytesIO(letter_pdf(patient))).pages[0]
    assert [image.image.size for image in page.images if image.image is not None] == [(120, 60)]
    assert list(bare.images) == []


def test_a_nurses_request_is_signed_by_the_physician_who_signed_the_plan(world: World) -> None:
    signed(world, world.alice_patient)
    text = _text(letter_pdf(world.alice_patient, requested_by=world.nurse))
    signature = text.split("Yours sincerely,", 1)[1]
    assert signature.startswith(f" {world.physician.display_name} Physician,")
    assert world.nurse.display_name not in signature


def test_without_a_physician_the_signature_line_is_left_for_one(world: World) -> None:
    text = _text(letter_pdf(world.alice_patient, requested_by=world.nurse))
    assert text.split("Yours sincerely,", 1)[1].startswith(" Treating physician Physician,")


def test_a_bp_alert_treated_with_clonidine_is_in_the_letter_with_its_action(
    world: World,
) -> None:
    session = _session(world)
    started = session.started_at
    assert started is not None
    _bp_alert(world, session, treated=True)
    AdverseEvent.objects.create(
        session=session,
        kind="hypertension",
        severity="moderate",
        onset_at=started + dt.timedelta(minutes=25),
        interventions=["paused", "clonidine"],
        note="BP 182/104",
        outcome="resolved",
        recorded_by=world.nurse,
    )
    text = _text(letter_pdf(world.alice_patient))
    safety = text.split("Adverse events and alerts ", 1)[1].split(" Observed response", 1)[0]
    assert "No adverse events" not in text
    assert (
        "alert: Systolic blood pressure 182 mmHg is above 180 mmHg. Action taken: Medication "
        f"given (Clonidine 0.1 mg by mouth), by {world.physician.display_name}."
    ) in safety
    assert (
        "adverse event: Hypertension, moderate. Action taken: Infusion paused, Clonidine "
        "(BP 182/104). Outcome: resolved."
    ) in safety


def test_an_open_alert_says_no_action_is_recorded(world: World) -> None:
    _bp_alert(world, _session(world), treated=False)
    text = _text(letter_pdf(world.alice_patient))
    assert "Action taken: none recorded; the alert is still open." in text


def test_the_letter_cites_publications_not_files(world: World) -> None:
    relapse_history(world, world.alice_patient)
    text = _text(letter_pdf(world.alice_patient))
    references = text.split("References ", 1)[1]
    assert "Dworkin RH et al." in references
    assert "J Pain 2008;9(2):105-121" in references
    assert "Krebs EE" in references
    assert not re.search(r"\.md\b|docs/|\.py\b", text)


def test_names_outside_latin_1_print_as_written(world: World) -> None:
    User.objects.filter(pk=world.physician.pk).update(full_name="Dr. Zoë Łukasiewicz")
    physician = User.objects.get(pk=world.physician.pk)
    text = _text(letter_pdf(world.alice_patient, requested_by=physician))
    assert "Dr. Zoë Łukasiewicz" in text
