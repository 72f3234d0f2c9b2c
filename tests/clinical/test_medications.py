"""The plan's catalogue of medicines and non-drug components (ketaclinic.clinical.medications)."""

from __future__ import annotations

import pytest

from ketaclinic.clinical.eligibility import THERAPIES
from ketaclinic.clinical.medications import (
    LINES,
    MEDICATIONS,
    NEUPSIG_2015_SOURCE,
    NON_DRUG_COMPONENTS,
    NOT_RECOMMENDED,
    UnknownComponent,
    medication,
    medications_by_line,
    non_drug_component,
)


def test_first_line_is_gabapentinoids_snris_and_tcas() -> None:
    first = medications_by_line(1)
    assert {m.drug_class for m in first} == {"gabapentinoid", "snri", "tca"}
    assert {m.code for m in first} == {
        "gabapentin",
        "gabapentin_er",
        "pregabalin",
        "duloxetine",
        "venlafaxine",
        "amitriptyline",
        "nortriptyline",
    }
    assert all(m.strength == "Strong" for m in first)


def test_second_line_is_the_patches_and_tramadol() -> None:
    assert [m.code for m in medications_by_line(2)] == [
        "lidocaine_patch",
        "capsaicin_patch",
        "tramadol",
    ]


def test_third_line_is_botulinum_toxin_and_strong_opioids() -> None:
    assert [m.code for m in medications_by_line(3)] == ["botulinum_toxin", "opioids"]
    assert all(m.strength == "Weak" for m in medications_by_line(3))


def test_every_medicine_is_in_exactly_one_line() -> None:
    by_line = [m.code for line in (1, 2, 3) for m in medications_by_line(line)]
    assert sorted(by_line) == sorted(MEDICATIONS)


@pytest.mark.parametrize(
    ("code", "daily_dose"),
    [
        ("gabapentin", "1200-3600 mg a day in 3 divided doses"),
        ("gabapentin_er", "1200-3600 mg a day in 2 divided doses"),
        ("pregabalin", "300-600 mg a day in 2 divided doses"),
        ("duloxetine", "60-120 mg once a day"),
        ("venlafaxine", "150-225 mg once a day"),
        ("amitriptyline", "25-150 mg once a day or in 2 divided doses"),
        ("lidocaine_patch", "1-3 plasters on the painful area once a day for up to 12 h"),
        ("capsaicin_patch", "1-4 patches on the painful area for 30-60 min every 3 months"),
        ("tramadol", "200-400 mg a day in 3 divided doses (2 if extended release)"),
        ("botulinum_toxin", "50-200 units into the painful area every 3 months (specialist use)"),
        ("opioids", "Individual titration"),
    ],
)
def test_guideline_dose_ranges_match_clinical_sources_section_5(code: str, daily_dose: str) -> None:
    assert medication(code).daily_dose == daily_dose


def test_every_medicine_cites_neupsig() -> None:
    for item in MEDICATIONS.values():
        assert NEUPSIG_2015_SOURCE in item.source, item.code
        assert "Finnerup NB, Attal N et al." in item.source
        assert "Lancet Neurol 2015" in item.source


def test_every_line_and_component_names_its_source() -> None:
    assert [line.number for line in LINES] == [1, 2, 3]
    assert all("Finnerup NB, Attal N et al." in line.source for line in LINES)
    assert all("Soliman N, Moisset X, Ferraro MC et al." in line.source for line in LINES)
    assert all(item.source for item in NON_DRUG_COMPONENTS.values())
    assert all(item.source == NEUPSIG_2015_SOURCE for item in NOT_RECOMMENDED)


def test_peripheral_only_treatments_say_so() -> None:
    peripheral = {m.code for m in MEDICATIONS.values() if "Peripheral" in m.conditions}
    assert peripheral == {"lidocaine_patch", "capsaicin_patch", "botulinum_toxin"}


def test_codes_match_the_therapies_a_history_records() -> None:
    # gabapentin_er is a regimen of gabapentin, not a separate prior-therapy code.
    for code, item in MEDICATIONS.items():
        if code == "gabapentin_er":
            continue
        therapy = THERAPIES[code]
        assert therapy.kind == "medication"
        assert (therapy.first_line_class is not None) == (item.line == 1), code
        if item.line == 1:
            assert therapy.first_line_class == item.drug_class
    for code in NON_DRUG_COMPONENTS:
        if code != "diet":
            assert THERAPIES[code].kind == "non-drug"


def test_the_non_drug_components_are_the_ones_the_plan_offers() -> None:
    assert list(NON_DRUG_COMPONENTS) == [
        "physical_therapy",
        "massage",
        "acupuncture",
        "cbt",
        "mindfulness",
        "exercise",
        "diet",
    ]
    assert non_drug_component("cbt").label == "Cognitive behavioural therapy (CBT)"
    assert all(item.plain.endswith(".") for item in NON_DRUG_COMPONENTS.values())


@pytest.mark.parametrize("code", ["aspirin", "", None, 1, "Gabapentin"])
def test_an_unknown_medicine_is_refused_naming_the_code(code: object) -> None:
    with pytest.raises(UnknownComponent, match=r"^code must be one of gabapentin, "):
        medication(code)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["yoga", None, "gabapentin"])
def test_an_unknown_non_drug_component_is_refused_naming_the_code(code: object) -> None:
    with pytest.raises(UnknownComponent, match=r"^code must be one of physical_therapy, "):
        non_drug_component(code)  # type: ignore[arg-type]


@pytest.mark.parametrize("line", [0, 4, -1, True, 1.0, "1", None])
def test_an_unknown_line_is_refused(line: object) -> None:
    with pytest.raises(ValueError, match=r"^line must be 1, 2 or 3"):
        medications_by_line(line)  # type: ignore[arg-type]


def test_unknown_component_is_a_value_error() -> None:
    assert issubclass(UnknownComponent, ValueError)
