"""The progress letter for a patient with little on record: no diary draws no empty chart."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ketaclinic.outcomes.letters.pdf import letter_pdf
from tests import factories
from tests.conftest import World
from tests.factories.outcomes import nrs_entries
from tests.outcomes.test_letter_content import _text


def test_a_patient_without_a_diary_gets_a_sentence_not_an_empty_chart(world: World) -> None:
    patient = factories.make_patient(world.clinic, given="Nadia", family="Empty")
    text = _text(letter_pdf(patient, requested_by=world.physician))
    section = text.split("Pain diary", 1)[1].split("References", 1)[0]
    assert "The patient has recorded no daily pain scores and no weekly PEG scores" in section
    assert "Red lines mark infusions" not in section
    assert "Pain (0 none - 10 worst)" not in section  # the chart's axis label


def test_one_diary_score_is_counted_in_the_singular(world: World) -> None:
    patient = factories.make_patient(world.clinic, given="Una", family="Single")
    nrs_entries(patient, {timezone.localdate() - dt.timedelta(days=3): 6})
    text = _text(letter_pdf(patient, requested_by=world.physician))
    assert "1 daily pain score and 0 weekly PEG scores [2] recorded." in text
    assert "Pain (0 none - 10 worst)" in text
