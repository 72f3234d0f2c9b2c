"""Units in words (issue 16 item 9): pages and letters show "mmHg", "°C", "beats/min", never the
UCUM codes the observations keep ("mm[Hg]", "Cel", "{score}", or "7 1" for a pain score of 7).

One mapping (``clinical/units.py``) and its template filters (``lib/templatetags/units.py``); the
infusion chart, the chair board, the consultation's exam and the progress letter rendered and
read as a person would."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.template import Context, Template
from pypdf import PdfReader

from ketaclinic.assessments.models import Observation as ExamObservation
from ketaclinic.clinical import codes
from ketaclinic.clinical.units import UNIT_LABELS, unit_label, with_unit
from ketaclinic.infusions.models import Observation
from ketaclinic.outcomes.letters.pdf import letter_pdf
from tests.conftest import World
from tests.factories.assessments import complete
from tests.factories.infusions import day_at

RAW = ("mm[Hg]", "Cel", "{score}", "kg/m2")


def no_raw_units(text: str) -> None:
    for code in RAW:
        assert code not in text, code


@pytest.mark.parametrize(
    ("code", "loinc", "words"),
    [
        ("mm[Hg]", None, "mmHg"),
        ("Cel", None, "°C"),
        ("/min", "8867-4", "beats/min"),
        ("/min", "9279-1", "breaths/min"),
        ("/min", None, "/min"),
        ("%", None, "%"),
        ("kg/m2", None, "kg/m²"),
        ("1", None, ""),
        ("{score}", None, ""),
        ("kg", None, "kg"),
    ],
)
def test_a_unit_code_reads_as_words(code: str, loinc: str | None, words: str) -> None:
    assert unit_label(code, loinc=loinc) == words


def test_a_value_reads_with_its_unit() -> None:
    assert with_unit("132", "mm[Hg]") == "132 mmHg"
    assert with_unit("97", "%") == "97%"
    assert with_unit("7", "1") == "7"
    assert with_unit("72", "/min", loinc="8867-4") == "72 beats/min"


def test_every_unit_the_code_table_records_is_in_the_mapping() -> None:
    recorded = {code.unit for code in codes.CODES.values() if code.unit is not None}
    assert recorded - set(UNIT_LABELS) == set()


def test_the_template_filters_show_a_measurement_in_words() -> None:
    row = ExamObservation(loinc="72514-3", value=7.0, unit="1")
    shown = Template("{% load units %}[{{ row|measurement }}] [{{ '8867-4'|loinc_unit }}]").render(
        Context({"row": row})
    )
    assert shown == "[7] [beats/min]"


pytestmark = pytest.mark.django_db


def test_the_consultations_exam_shows_units_in_words(world: World, client_for: Any) -> None:
    c = complete(world)
    page = client_for("physician").get(f"/staff/consultations/{c.public_id}/").content.decode()
    no_raw_units(page)

    def cell(loinc: str) -> str:
        found = re.search(rf'data-testid="obs-{loinc}">([^<]*)<', page)
        assert found is not None, loinc
        return found.group(1)

    assert cell("8480-6") == "128 mmHg"
    assert cell("8310-5") == "36.8 °C"
    assert cell("8867-4") == "72 beats/min"
    assert cell("59408-5") == "98%"
    assert cell("72514-3") == "7"  # the pain score, not "7 1"


def test_the_infusion_chart_board_and_letter_show_units_in_words(
    world: World, client_for: Any
) -> None:
    day = day_at(world, "infusing")
    day.backdate(10)
    day.vitals(systolic_bp=185, diastolic_bp=95, heart_rate=88, pain_nrs=4)
    # The observations keep their UCUM codes for exchange.
    assert set(Observation.objects.values_list("unit", flat=True)) >= {"mm[Hg]", "/min", "1"}

    nurse = client_for("nurse")
    chart = nurse.get(f"/infusions/sessions/{day.session.public_id}/").content.decode()
    no_raw_units(chart)
    assert 'BP <span class="unit">(mmHg)</span>' in chart
    assert 'HR <span class="unit">(beats/min)</span>' in chart
    assert 'RR <span class="unit">(breaths/min)</span>' in chart

    board = nurse.get(f"/infusions/board/{world.cleveland.pk}/").content.decode()
    no_raw_units(board)

    reader = PdfReader(io.BytesIO(letter_pdf(day.session.patient)))
    letter = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    no_raw_units(letter)
    assert "mmHg" in letter  # the blood-pressure alert, in words
