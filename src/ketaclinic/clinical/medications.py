"""The parts of a comprehensive plan: medicines by NeuPSIG line, and the non-drug components.

Guidance for the physician writing a plan, not a prescribing rule: the daily doses are the
ranges the NeuPSIG recommendations give (docs/clinical-sources.md §5), shown beside the
physician's own free-text instructions. Nothing here chooses, limits or checks a dose. Pure data
and two look-ups; no Django.

Codes match ``clinical.eligibility.THERAPIES`` where a therapy appears in both, so a plan's
components and a history's prior treatments speak the same vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "LINES",
    "MEDICATIONS",
    "NEUPSIG_2015_SOURCE",
    "NEUPSIG_2025_SOURCE",
    "NON_DRUG_COMPONENTS",
    "NOT_RECOMMENDED",
    "TITRATION_SOURCE",
    "Line",
    "Medication",
    "NonDrugComponent",
    "NotRecommended",
    "UnknownComponent",
    "medication",
    "medications_by_line",
    "non_drug_component",
]

LineNumber = Literal[1, 2, 3]

# -- sources -----------------------------------------------------------------------------------
# Shown to clinicians and patients, so they cite publications, never a file. Where each is recorded:
# NeuPSIG 2015, titration, side effects and TCA cautions in docs/clinical-sources.md §5.1; the
# 2025 update and tramadol in docs/clinical-sources.md §5.2; Moisset 2020, CDC 2022 and ASA 2023 in
# docs/clinical-sources.md §5.3; the comprehensive plan in
# docs/clinical-policy.md "What patients are told (education pages, in the project's own words)".

NEUPSIG_2015_SOURCE: Final = (
    "NeuPSIG: Finnerup NB, Attal N et al. Pharmacotherapy for neuropathic pain in adults: a "
    "systematic review and meta-analysis. Lancet Neurol 2015;14(2):162-173 (PMC4493167, table 3; "
    "doses as reproduced in PMC7807995, table 2)."
)
NEUPSIG_2025_SOURCE: Final = (
    "NeuPSIG 2025 update: Soliman N, Moisset X, Ferraro MC et al. Lancet Neurol "
    "2025;24(5):413-428 (doi 10.1016/S1474-4422(25)00068-7; PMID 40252663), recommendations as "
    "summarised by epocrates, June 2025 (a secondary summary; high confidence)."
)
TITRATION_SOURCE: Final = (
    "Practical starting doses: BJSM table 4 and Canadian Family Physician table (medium "
    "confidence)."
)
_SIDE_EFFECTS_SOURCE: Final = (
    "Side effects: Finnerup NB et al. Lancet Neurol 2015 (PMC4493167), table 3 footnote."
)
_TCA_CAUTION_SOURCE: Final = (
    "TCA cautions: ADA guidance as quoted in a secondary summary (droracle.ai; medium "
    "confidence); verify before relying on it."
)
_TRAMADOL_2025: Final = (
    "NeuPSIG 2025 (Soliman N et al. Lancet Neurol 2025) groups tramadol with the opioids at "
    "third line (not confirmed in the full paper; medium confidence: verify)."
)
_MOISSET_2020: Final = (
    "Moisset X et al. Pharmacological and non-pharmacological treatments for neuropathic pain: "
    "systematic review and French recommendations. Rev Neurol 2020;176:325-352."
)
_CDC_2022: Final = (
    "CDC 2022 opioid guideline, recommendation 2: make the most of non-drug and non-opioid "
    "treatments such as exercise therapy, CBT and physical therapy for chronic pain (CDC "
    "Clinical Practice Guideline for Prescribing Opioids for Pain, 2022)."
)
_ASA_2023: Final = (
    "American Society of Anesthesiologists, Statement on Ketamine for the Treatment of Chronic "
    "Pain (2023): ketamine only within a comprehensive multidisciplinary approach."
)
_PLAN_COMPONENTS: Final = (
    "Part of ketaclinic's comprehensive pain-management plan, following the American Society of "
    "Anesthesiologists Statement on Ketamine for the Treatment of Chronic Pain (2023: ketamine "
    "only within a comprehensive multidisciplinary plan) and the CDC 2022 opioid guideline "
    "(multimodal, multidisciplinary pain care). No graded recommendation for this component in "
    "neuropathic pain was found."
)

# -- lines -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A NeuPSIG line of treatment."""

    number: LineNumber
    label: str
    summary: str
    source: str


LINES: Final[tuple[Line, ...]] = (
    Line(
        number=1,
        label="First line",
        summary=(
            "Gabapentinoids (gabapentin, pregabalin), SNRIs (duloxetine, venlafaxine) and TCAs "
            "(amitriptyline, nortriptyline): strong recommendations for all neuropathic pain. "
            "Combined NNT for 50% relief: TCAs 3.6, SNRIs 6.4, pregabalin 7.7, gabapentin 7.2."
        ),
        source=f"{NEUPSIG_2015_SOURCE} Confirmed first line in 2025: {NEUPSIG_2025_SOURCE}",
    ),
    Line(
        number=2,
        label="Second line",
        summary=(
            "Lidocaine 5% plaster and capsaicin 8% patch for peripheral neuropathic pain (2025 "
            "adds capsaicin cream), and tramadol in 2015: weak recommendations, well tolerated."
        ),
        source=f"{NEUPSIG_2015_SOURCE} {NEUPSIG_2025_SOURCE}",
    ),
    Line(
        number=3,
        label="Third line",
        summary=(
            "Botulinum toxin A (specialist use, peripheral pain) and strong opioids: weak "
            "recommendations. 2025 adds high-frequency rTMS of the motor cortex."
        ),
        source=f"{NEUPSIG_2015_SOURCE} {NEUPSIG_2025_SOURCE}",
    ),
)

# -- medicines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Medication:
    """One medicine (or regimen) with the guideline's dose range, as guidance text."""

    code: str
    name: str
    drug_class: str
    line: LineNumber
    daily_dose: str
    strength: str
    conditions: str
    starting_dose: str
    side_effects: str
    cautions: str
    source: str


_ALL: Final = "All neuropathic pain"
_PERIPHERAL: Final = "Peripheral neuropathic pain only"
_GABAPENTINOID_EFFECTS: Final = "Somnolence, dizziness, weight gain."
_GABAPENTINOID_CAUTION: Final = "Adjust the dose for renal function."
_SNRI_EFFECTS: Final = "Somnolence, constipation; nausea (duloxetine)."
_TCA_EFFECTS: Final = "Somnolence, constipation, dry mouth."
_TCA_CAUTION: Final = (
    "Caution in cardiac disease, glaucoma and prostatism; ECG if over 40 years or with a cardiac "
    "history."
)
_OPIOID_EFFECTS: Final = "Constipation, nausea, somnolence, dizziness."


def _sources(*parts: str) -> str:
    return " ".join(parts)


_MEDICATION_LIST: Final[tuple[Medication, ...]] = (
    Medication(
        code="gabapentin",
        name="Gabapentin",
        drug_class="gabapentinoid",
        line=1,
        daily_dose="1200-3600 mg a day in 3 divided doses",
        strength="Strong",
        conditions=_ALL,
        starting_dose="100-300 mg 1-3 times a day",
        side_effects=_GABAPENTINOID_EFFECTS,
        cautions=_GABAPENTINOID_CAUTION,
        source=_sources(NEUPSIG_2015_SOURCE, TITRATION_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="gabapentin_er",
        name="Gabapentin extended release or enacarbil",
        drug_class="gabapentinoid",
        line=1,
        daily_dose="1200-3600 mg a day in 2 divided doses",
        strength="Strong",
        conditions=_ALL,
        starting_dose="",
        side_effects=_GABAPENTINOID_EFFECTS,
        cautions=_GABAPENTINOID_CAUTION,
        source=_sources(NEUPSIG_2015_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="pregabalin",
        name="Pregabalin",
        drug_class="gabapentinoid",
        line=1,
        daily_dose="300-600 mg a day in 2 divided doses",
        strength="Strong",
        conditions=_ALL,
        starting_dose="25-75 mg 1-2 times a day",
        side_effects=_GABAPENTINOID_EFFECTS,
        cautions=_GABAPENTINOID_CAUTION,
        source=_sources(NEUPSIG_2015_SOURCE, TITRATION_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="duloxetine",
        name="Duloxetine",
        drug_class="snri",
        line=1,
        daily_dose="60-120 mg once a day",
        strength="Strong",
        conditions=_ALL,
        starting_dose="20-30 mg a day",
        side_effects=_SNRI_EFFECTS,
        cautions="",
        source=_sources(NEUPSIG_2015_SOURCE, TITRATION_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="venlafaxine",
        name="Venlafaxine extended release",
        drug_class="snri",
        line=1,
        daily_dose="150-225 mg once a day",
        strength="Strong",
        conditions=_ALL,
        starting_dose="37.5-75 mg a day",
        side_effects=_SNRI_EFFECTS,
        cautions="",
        source=_sources(NEUPSIG_2015_SOURCE, TITRATION_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="amitriptyline",
        name="Amitriptyline",
        drug_class="tca",
        line=1,
        daily_dose="25-150 mg once a day or in 2 divided doses",
        strength="Strong",
        conditions=_ALL,
        starting_dose="10-20 mg at night (at most 150 mg)",
        side_effects=_TCA_EFFECTS,
        cautions=_TCA_CAUTION,
        source=_sources(
            NEUPSIG_2015_SOURCE, TITRATION_SOURCE, _SIDE_EFFECTS_SOURCE, _TCA_CAUTION_SOURCE
        ),
    ),
    Medication(
        code="nortriptyline",
        name="Nortriptyline",
        drug_class="tca",
        line=1,
        daily_dose="25-150 mg once a day or in 2 divided doses",
        strength="Strong",
        conditions=_ALL,
        starting_dose="10-20 mg at night (at most 150 mg)",
        side_effects=_TCA_EFFECTS,
        cautions=_TCA_CAUTION,
        source=_sources(
            NEUPSIG_2015_SOURCE, TITRATION_SOURCE, _SIDE_EFFECTS_SOURCE, _TCA_CAUTION_SOURCE
        ),
    ),
    Medication(
        code="lidocaine_patch",
        name="Lidocaine 5% plaster",
        drug_class="topical",
        line=2,
        daily_dose="1-3 plasters on the painful area once a day for up to 12 h",
        strength="Weak",
        conditions=_PERIPHERAL,
        starting_dose="",
        side_effects="Local irritation.",
        cautions="",
        source=_sources(NEUPSIG_2015_SOURCE, NEUPSIG_2025_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="capsaicin_patch",
        name="Capsaicin 8% patch",
        drug_class="topical",
        line=2,
        daily_dose="1-4 patches on the painful area for 30-60 min every 3 months",
        strength="Weak",
        conditions=_PERIPHERAL,
        starting_dose="",
        side_effects="Local pain, oedema, erythema.",
        cautions="",
        source=_sources(NEUPSIG_2015_SOURCE, NEUPSIG_2025_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
    Medication(
        code="tramadol",
        name="Tramadol",
        drug_class="opioid",
        line=2,
        daily_dose="200-400 mg a day in 3 divided doses (2 if extended release)",
        strength="Weak",
        conditions=_ALL,
        starting_dose="",
        side_effects=_OPIOID_EFFECTS,
        cautions=_TRAMADOL_2025,
        source=_sources(NEUPSIG_2015_SOURCE, _SIDE_EFFECTS_SOURCE, _TRAMADOL_2025),
    ),
    Medication(
        code="botulinum_toxin",
        name="Botulinum toxin A",
        drug_class="botulinum_toxin",
        line=3,
        daily_dose="50-200 units into the painful area every 3 months (specialist use)",
        strength="Weak",
        conditions=_PERIPHERAL,
        starting_dose="",
        side_effects="",
        cautions="Specialist use.",
        source=_sources(NEUPSIG_2015_SOURCE, NEUPSIG_2025_SOURCE),
    ),
    Medication(
        code="opioids",
        name="Strong opioids",
        drug_class="opioid",
        line=3,
        daily_dose="Individual titration",
        strength="Weak",
        conditions=_ALL,
        starting_dose="",
        side_effects=_OPIOID_EFFECTS,
        cautions="",
        source=_sources(NEUPSIG_2015_SOURCE, NEUPSIG_2025_SOURCE, _SIDE_EFFECTS_SOURCE),
    ),
)

#: Every medicine the plan offers, by code, in line order (read-only).
MEDICATIONS: Final[Mapping[str, Medication]] = MappingProxyType(
    {item.code: item for item in _MEDICATION_LIST}
)


@dataclass(frozen=True)
class NotRecommended:
    """A drug the guideline recommends against; listed so the page can say so."""

    name: str
    strength: str
    source: str


NOT_RECOMMENDED: Final[tuple[NotRecommended, ...]] = (
    NotRecommended(name="Cannabinoids", strength="Weak against", source=NEUPSIG_2015_SOURCE),
    NotRecommended(name="Valproate", strength="Weak against", source=NEUPSIG_2015_SOURCE),
    NotRecommended(name="Levetiracetam", strength="Strong against", source=NEUPSIG_2015_SOURCE),
    NotRecommended(name="Mexiletine", strength="Strong against", source=NEUPSIG_2015_SOURCE),
)

# -- non-drug components -----------------------------------------------------------------------


@dataclass(frozen=True)
class NonDrugComponent:
    """A non-drug part of the plan; ``plain`` is how the patient summary explains it."""

    code: str
    label: str
    plain: str
    source: str


_NON_DRUG_LIST: Final[tuple[NonDrugComponent, ...]] = (
    NonDrugComponent(
        code="physical_therapy",
        label="Physical therapy",
        plain="Exercises and hands-on treatment with a physical therapist to keep you moving.",
        source=_sources(_MOISSET_2020, _CDC_2022, _ASA_2023),
    ),
    NonDrugComponent(
        code="massage",
        label="Massage",
        plain="Massage to ease tense muscles; tell the therapist which areas are sensitive.",
        source=_PLAN_COMPONENTS,
    ),
    NonDrugComponent(
        code="acupuncture",
        label="Acupuncture",
        plain="Acupuncture sessions with a qualified practitioner.",
        source=_PLAN_COMPONENTS,
    ),
    NonDrugComponent(
        code="cbt",
        label="Cognitive behavioural therapy (CBT)",
        plain="Talking therapy that helps with the way pain affects your thoughts, mood and days.",
        source=_sources(_MOISSET_2020, _CDC_2022),
    ),
    NonDrugComponent(
        code="mindfulness",
        label="Mindfulness",
        plain="Practice in paying attention to the present moment, which can ease pain's grip.",
        source=_MOISSET_2020,
    ),
    NonDrugComponent(
        code="exercise",
        label="Exercise",
        plain="Regular activity at a level you can keep up, increased step by step.",
        source=_CDC_2022,
    ),
    NonDrugComponent(
        code="diet",
        label="Diet",
        plain="Changes to what you eat, for example to keep blood sugar steady.",
        source=_PLAN_COMPONENTS,
    ),
)

#: Every non-drug component, by code, in display order (read-only).
NON_DRUG_COMPONENTS: Final[Mapping[str, NonDrugComponent]] = MappingProxyType(
    {item.code: item for item in _NON_DRUG_LIST}
)

# -- look-ups ----------------------------------------------------------------------------------


class UnknownComponent(ValueError):  # noqa: N818 - named like instruments.UnknownInstrument
    """A code that is not in the catalogue."""


def medication(code: str) -> Medication:
    """The medicine with this code; ``UnknownComponent`` naming ``code`` otherwise."""
    if not isinstance(code, str) or code not in MEDICATIONS:
        raise UnknownComponent(f"code must be one of {', '.join(MEDICATIONS)}; got {code!r}")
    return MEDICATIONS[code]


def non_drug_component(code: str) -> NonDrugComponent:
    """The non-drug component with this code; ``UnknownComponent`` naming ``code`` otherwise."""
    if not isinstance(code, str) or code not in NON_DRUG_COMPONENTS:
        raise UnknownComponent(
            f"code must be one of {', '.join(NON_DRUG_COMPONENTS)}; got {code!r}"
        )
    return NON_DRUG_COMPONENTS[code]


def medications_by_line(line: int) -> tuple[Medication, ...]:
    """The medicines of one NeuPSIG line (1, 2 or 3), in catalogue order."""
    # Exactly int: True is an int to Python and 1.0 equals 1, but neither is a line number.
    if type(line) is not int or line not in (1, 2, 3):
        raise ValueError(f"line must be 1, 2 or 3; got {line!r}")
    return tuple(item for item in _MEDICATION_LIST if item.line == line)
