"""The rating scales: pain (NRS, PEG), change (PGIC), sedation (RASS, MOAA/S), recovery
(modified Aldrete) and dissociation (CADSS-6, charting only).

Data: every item's wording and answer labels, with the range, bands, source and licence of each
scale (docs/clinical-sources.md §2.3, §2.5, §6.1-§6.3, cited beside each ``source``). Kept apart
from ``clinical.instruments``, which registers and scores them, so the wording reads as one table.
"""

from __future__ import annotations

from collections.abc import Mapping

from ketaclinic.clinical.instrument_model import Band, Choice, Instrument, Item

__all__ = ["CHARTING_ONLY", "RATING_SCALES"]


def _scale(key: str, wording: str, labels: Mapping[int, str]) -> Item:
    """An integer item scored as its own value; ``labels`` maps every allowed value to a label."""
    return Item(
        key=key,
        wording=wording,
        answer_type="int",
        choices=tuple(Choice(value, label, value) for value, label in sorted(labels.items())),
    )


def _numbered(lowest: int, highest: int, anchors: Mapping[int, str]) -> dict[int, str]:
    """Labels for a numeric scale: the anchor text where one exists, else the number itself."""
    return {v: anchors.get(v, str(v)) for v in range(lowest, highest + 1)}


def _levels(labels: Mapping[int, str]) -> tuple[Band, ...]:
    """One band per level, for scales whose levels are categories (RASS, MOAA/S, PGIC)."""
    return tuple(Band(v, v, label, includes_upper=True) for v, label in sorted(labels.items()))


# --- NRS and PEG -----------------------------------------------------------------------------

_SEVERITY_NOTE = (
    "Severity bands 0 none, 1-3 mild, 4-6 moderate, 7-10 severe are a common clinical reading "
    "aid; published cut points vary by population (e.g. Serlin 1995 used 1-4/5-6/7-10)."
)

_NRS = Instrument(
    code="nrs",
    name="Pain intensity, 0-10 numeric rating scale (NRS)",
    items=(
        _scale(
            "pain",
            "On a scale from 0 to 10, where 0 is no pain and 10 is the worst pain you can "
            "imagine, what number best describes your pain?",
            _numbered(0, 10, {0: "0 - No pain", 10: "10 - Worst pain imaginable"}),
        ),
    ),
    minimum=0,
    maximum=10,
    cutoff=None,
    bands=(
        Band(0, 1, "none"),
        Band(1, 4, "mild"),
        Band(4, 7, "moderate"),
        Band(7, 10, "severe", includes_upper=True),
    ),
    # docs/clinical-sources.md §6.1, §8.2
    source=(
        "0-10 numeric rating scale, LOINC 72514-3; change interpreted by IMMPACT (Dworkin RH et "
        "al. J Pain 2008;9(2):105-121). " + _SEVERITY_NOTE
    ),
    licence="Generic numeric rating scale, not a proprietary instrument; no licence needed.",
    instructions="Choose one whole number from 0 to 10.",
    administered_by="patient",
)

_INTERFERENCE_LABELS = _numbered(
    0, 10, {0: "0 - Does not interfere", 10: "10 - Completely interferes"}
)

_PEG = Instrument(
    code="peg",
    name="PEG (Pain, Enjoyment of life, General activity)",
    items=(
        _scale(
            "pain",
            "What number best describes your pain on average in the past week?",
            _numbered(0, 10, {0: "0 - No pain", 10: "10 - Pain as bad as you can imagine"}),
        ),
        _scale(
            "enjoyment",
            "What number best describes how, during the past week, pain has interfered with your "
            "enjoyment of life?",
            _INTERFERENCE_LABELS,
        ),
        _scale(
            "general_activity",
            "What number best describes how, during the past week, pain has interfered with your "
            "general activity?",
            _INTERFERENCE_LABELS,
        ),
    ),
    minimum=0,
    maximum=10,
    cutoff=None,
    # No published PEG bands exist; these apply the NRS severity reading to the mean, with the
    # lowest band called "minimal" because a mean below 1 can still include a pain of 1 or 2.
    bands=(
        Band(0, 1, "minimal"),
        Band(1, 4, "mild"),
        Band(4, 7, "moderate"),
        Band(7, 10, "severe", includes_upper=True),
    ),
    # docs/clinical-policy.md "Screening instruments [3]"; licence: docs/clinical-sources.md §6.2
    source=(
        "Krebs EE, Lorenz KA, Bair MJ, et al. Development and initial validation of the PEG, a "
        "three-item scale assessing pain intensity and interference. J Gen Intern Med "
        "2009;24(6):733-738. Total = mean of the three items (0-10). Bands are a reading aid "
        "(no published PEG bands). " + _SEVERITY_NOTE
    ),
    licence=(
        "Published in the open literature and widely reproduced. Its items derive from the Brief "
        "Pain Inventory, whose copyright (Cleeland / MD Anderson) claims all derivatives (MD "
        "Anderson BPI user guide); PEG's own licence status is not verified: confirm before "
        "commercial distribution."
    ),
    instructions="Choose one whole number from 0 to 10 for each question; the score is their mean.",
    administered_by="patient",
    aggregation="mean",
)


# --- PGIC ------------------------------------------------------------------------------------

_PGIC_LABELS = {
    1: "very much improved",
    2: "much improved",
    3: "minimally improved",
    4: "no change",
    5: "minimally worse",
    6: "much worse",
    7: "very much worse",
}

_PGIC = Instrument(
    code="pgic",
    name="Patient Global Impression of Change (PGIC, 7 points)",
    items=(
        _scale(
            "change",
            "Since the start of treatment, my overall status is:",
            {v: f"{v} - {label.capitalize()}" for v, label in _PGIC_LABELS.items()},
        ),
    ),
    minimum=1,
    maximum=7,
    cutoff=None,
    bands=_levels(_PGIC_LABELS),
    # docs/clinical-sources.md §6.1, §6.3
    source=(
        "Farrar JT et al. Clinical importance of changes in chronic pain intensity measured on "
        "an 11-point numerical pain rating scale. Pain 2001;94:149-158; anchors from Guy W, ECDEU "
        "Assessment Manual (Clinical Global Impression), 1976. IMMPACT (Dworkin 2008): minimally "
        "improved = minimal, much improved = moderate, very much improved = substantial."
    ),
    licence=(
        "Public domain (derived from the NIMH ECDEU Clinical Global Impression). Not verified "
        "(not confirmed in a primary source; medium confidence)."
    ),
    instructions="Choose the one statement that best describes the change since treatment began.",
    administered_by="patient",
)


# --- RASS and MOAA/S -------------------------------------------------------------------------

_RASS_LEVELS = {
    4: ("combative", "Overtly combative or violent; immediate danger to staff"),
    3: ("very agitated", "Pulls on or removes tubes or catheters, or aggressive toward staff"),
    2: ("agitated", "Frequent non-purposeful movement"),
    1: ("restless", "Anxious or apprehensive but movements not aggressive or vigorous"),
    0: ("alert and calm", "Alert and calm"),
    -1: (
        "drowsy",
        "Not fully alert, but sustained (more than 10 s) awakening to voice, with eye contact",
    ),
    -2: ("light sedation", "Briefly (less than 10 s) awakens to voice, with eye contact"),
    -3: ("moderate sedation", "Movement but no eye contact to voice"),
    -4: ("deep sedation", "No response to voice, but movement to physical stimulation"),
    -5: ("unarousable", "No response to voice or physical stimulation"),
}

_SEDATION_SCALE_LICENCE = (
    "Published clinical scale, widely reproduced in hospital protocols; licence terms not reviewed."
)

_RASS = Instrument(
    code="rass",
    name="Richmond Agitation-Sedation Scale (RASS)",
    items=(
        _scale(
            "level",
            "Richmond Agitation-Sedation Scale level",
            {
                v: f"{v:+d} {short.capitalize()}: {text}"
                for v, (short, text) in _RASS_LEVELS.items()
            },
        ),
    ),
    minimum=-5,
    maximum=4,
    cutoff=None,
    bands=_levels({v: short for v, (short, _long) in _RASS_LEVELS.items()}),
    # docs/clinical-sources.md §2.3
    source=(
        "Sessler CN, Gosnell MS, Grap MJ, et al. The Richmond Agitation-Sedation Scale: validity "
        "and reliability in adult intensive care unit patients. Am J Respir Crit Care Med "
        "2002;166(10):1338-1344."
    ),
    licence=_SEDATION_SCALE_LICENCE,
    instructions=(
        "Observe the patient; if not alert, speak the patient's name and ask them to open their "
        "eyes and look at you; if there is no response, stimulate physically. Record one level."
    ),
    administered_by="clinician",
)

_MOAAS_LEVELS = {
    5: ("responds readily to name", "Responds readily to name spoken in a normal tone"),
    4: ("lethargic response to name", "Lethargic response to name spoken in a normal tone"),
    3: (
        "responds to loud or repeated name",
        "Responds only after name is called loudly or repeatedly",
    ),
    2: ("responds to prodding or shaking", "Responds only after mild prodding or shaking"),
    1: ("no response to prodding or shaking", "Does not respond to mild prodding or shaking"),
    0: ("no response to pain", "Does not respond to a painful stimulus"),
}

_MOAAS = Instrument(
    code="moaas",
    name="Modified Observer's Assessment of Alertness/Sedation (MOAA/S)",
    items=(
        _scale(
            "level",
            "Modified Observer's Assessment of Alertness/Sedation score",
            {v: f"{v} - {long}" for v, (_short, long) in _MOAAS_LEVELS.items()},
        ),
    ),
    minimum=0,
    maximum=5,
    cutoff=None,
    bands=_levels({v: short for v, (short, _long) in _MOAAS_LEVELS.items()}),
    # docs/clinical-sources.md §2.3 (level descriptions)
    source=(
        "Chernik DA et al. Validity and reliability of the Observer's Assessment of "
        "Alertness/Sedation Scale: study with intravenous midazolam. J Clin Psychopharmacol "
        "1990;10(4):244-251."
    ),
    licence=_SEDATION_SCALE_LICENCE,
    instructions="Record the level of the patient's response.",
    administered_by="clinician",
)


# --- Modified Aldrete ------------------------------------------------------------------------

_ALDRETE = Instrument(
    code="aldrete",
    name="Modified Aldrete score",
    items=(
        _scale(
            "activity",
            "Activity",
            {
                2: "2 - Able to move 4 extremities voluntarily or on command",
                1: "1 - Able to move 2 extremities voluntarily or on command",
                0: "0 - Unable to move extremities",
            },
        ),
        _scale(
            "respiration",
            "Respiration",
            {
                2: "2 - Able to breathe deeply and cough freely",
                1: "1 - Dyspnoea or limited breathing",
                0: "0 - Apnoeic",
            },
        ),
        _scale(
            "circulation",
            "Circulation (blood pressure compared with the pre-infusion level)",
            {
                2: "2 - Within 20 mmHg of the pre-infusion level",
                1: "1 - 20 to 50 mmHg from the pre-infusion level",
                0: "0 - More than 50 mmHg from the pre-infusion level",
            },
        ),
        _scale(
            "consciousness",
            "Consciousness",
            {2: "2 - Fully awake", 1: "1 - Arousable on calling", 0: "0 - Not responding"},
        ),
        _scale(
            "oxygen_saturation",
            "Oxygen saturation",
            {
                2: "2 - Able to maintain SpO2 above 92% on room air",
                1: "1 - Needs oxygen to maintain SpO2 above 90%",
                0: "0 - SpO2 below 90% even with oxygen",
            },
        ),
    ),
    minimum=0,
    maximum=10,
    cutoff=9,
    bands=(
        Band(0, 9, "not ready for discharge"),
        Band(9, 10, "ready for discharge", includes_upper=True),
    ),
    # docs/clinical-sources.md §2.5; docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]"
    source=(
        "Aldrete JA, Kroulik D. A postanesthetic recovery score. Anesth Analg 1970;49(6):924-934; "
        "Aldrete JA. The post-anesthesia recovery score revisited. J Clin Anesth 1995;7(1):89-91 "
        "(pulse oximetry replaces colour). 9 or more allows discharge. ketaclinic's discharge "
        "also needs an escort and 30 min observation."
    ),
    licence=("Published clinical score, widely reproduced; licence terms not reviewed."),
    instructions="Score each of the five domains 0, 1 or 2 and add them.",
    administered_by="clinician",
    positive_meaning="ready for discharge on this score (escort and observation time also needed)",
)


# --- CADSS-6 (charting only, outside the contract list) --------------------------------------

_CADSS_ANCHORS = {
    0: "0 - Not at all",
    1: "1 - Slightly",
    2: "2 - Moderately",
    3: "3 - Considerably",
    4: "4 - Extremely",
}

# The full CADSS wording is copyrighted and its licence was not found, so items are identified by
# their CADSS number with a short paraphrase; nurses read the questions from the clinic's form.
_CADSS6 = Instrument(
    code="cadss6",
    name="CADSS-6 (six-item Clinician-Administered Dissociative States Scale)",
    items=tuple(
        _scale(key, wording, _CADSS_ANCHORS)
        for key, wording in (
            ("item_1", "CADSS item 1 (things seem to move in slow motion)"),
            ("item_2", "CADSS item 2 (things seem unreal, as in a dream)"),
            ("item_6", "CADSS item 6 (feeling disconnected from one's body)"),
            ("item_7", "CADSS item 7 (sense of one's body feels changed)"),
            ("item_15", "CADSS item 15 (spacing out, losing track of what is going on)"),
            ("item_22", "CADSS item 22 (as worded on the clinic's CADSS form)"),
        )
    ),
    minimum=0,
    maximum=24,
    cutoff=None,
    # No validated severity bands exist for CADSS-6; the bands only say whether any was reported.
    bands=(
        Band(0, 1, "none reported"),
        Band(1, 24, "dissociative symptoms reported", includes_upper=True),
    ),
    # docs/clinical-sources.md §2.3; docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]"
    source=(
        "Rodrigues NB et al. A simplified 6-item Clinician Administered Dissociative Symptom Scale "
        "(CADSS-6) for monitoring dissociative effects of sub-anesthetic ketamine infusions. "
        "J Affect Disord 2021 (items 1, 2, 6, 7, 15, 22 of the CADSS; Bremner JD et al. "
        "J Trauma Stress 1998). Each item 0-4, total 0-24, no cut-off."
    ),
    licence=(
        "CADSS is copyright J. Douglas Bremner; licensing terms were looked for and not found. "
        "Item wording is deliberately not reproduced."
    ),
    instructions="Rate each item 0 (not at all) to 4 (extremely) for the patient's state now.",
    administered_by="clinician",
)


RATING_SCALES: tuple[Instrument, ...] = (_NRS, _PEG, _PGIC, _RASS, _MOAAS, _ALDRETE)
"""The contract's rating scales, in the order ``clinical.instruments.REGISTRY`` lists them."""

CHARTING_ONLY: tuple[Instrument, ...] = (_CADSS6,)
"""Scales the infusion chart needs beyond the contract list."""
