"""The public self-check: its steps, its questions, and how the answers become a result.

Plain Python on top of the clinical core; no Django import, so the same definition serves the
forms, the service that stores a result, and the tests.

The symptom questions are the items of three validated instruments (DN4 interview, ID Pain and
S-LANSS) in each instrument's own wording, taken from ``instruments.REGISTRY``. A symptom asked by
more than one instrument with the same meaning (the same ``Item.concept``, see
``instruments.CONCEPTS``) is asked once, in the wording of the first instrument that asks it, and
the answer feeds every instrument that shares it. Scores come only from ``instruments.score``.

The answers are stored by step: ``{"feel": {"burning": True, ...}, "duration": {"duration":
"3_to_6"}, "where": {"regions": [...]}, ...}``. ``evaluate`` checks a complete set of answers and
raises ``ValueError`` naming the first bad field (``"<step>.<field>: ..."``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from ketaclinic.clinical.eligibility import DEFAULT_POLICY, THERAPIES
from ketaclinic.clinical.instruments import REGISTRY, Score, score

SCREENING_CODES: tuple[str, ...] = ("dn4-interview", "id-pain", "s-lanss")
"""The instruments of the self-check, in the order their questions are asked."""

SHORT_NAMES: Mapping[str, str] = MappingProxyType(
    {"dn4-interview": "DN4", "id-pain": "ID Pain", "s-lanss": "S-LANSS"}
)

CHRONIC_AFTER_MONTHS = DEFAULT_POLICY.chronic_pain_months
"""Chronic pain lasts longer than 3 months (IASP / ICD-11; docs/clinical-sources.md §4.2): the
eligibility rule's own default, so the self-check and the exam draw the line in one place."""

# The two S-LANSS self-tests are asked on their own screen, after the instructions.
SELF_TEST_CONCEPTS: tuple[str, ...] = ("rub_self_test", "press_self_test")

# instruments.CONCEPTS["pins_and_needles"]: S-LANSS asks about '"pins and needles", tingling or
# prickling', which is broader than DN4's "pins and needles". The shared question shows the
# narrower DN4 wording, so a "yes" to DN4 "tingling" also counts as an S-LANSS yes.
ALSO_COUNTS: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {("s-lanss", "pins_and_needles"): ("tingling",)}
)

# Short names for error messages and the summary; the question itself keeps the instrument's words.
CONCEPT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "burning": "Burning",
        "painful_cold": "Painful cold",
        "electric_shocks": "Electric shocks",
        "tingling": "Tingling",
        "pins_and_needles": "Pins and needles",
        "numbness": "Numbness",
        "itching": "Itching",
        "touch_evoked_pain": "Worse with touch",
        "limited_to_joints": "Limited to joints",
        "skin_colour_change": "Skin colour change",
        "sudden_bursts": "Sudden bursts of pain",
        "rub_self_test": "Rubbing test",
        "press_self_test": "Pressing test",
    }
)


@dataclass(frozen=True)
class SymptomQuestion:
    """One yes/no question asked once for every instrument item that shares its concept."""

    concept: str
    name: str
    stem: str | None
    wording: str
    no_label: str
    yes_label: str
    asked_by: tuple[str, ...]  # instrument codes whose items this answer feeds


def _symptom_questions() -> tuple[SymptomQuestion, ...]:
    first: dict[str, SymptomQuestion] = {}
    for code in SCREENING_CODES:
        for item in REGISTRY[code].items:
            concept = item.concept
            if concept is None or item.answer_type != "bool":
                raise ValueError(f"{code}.{item.key}: a self-check item needs a yes/no concept")
            known = first.get(concept)
            if known is None:
                no, yes = (choice.label for choice in item.choices)
                first[concept] = SymptomQuestion(
                    concept=concept,
                    name=CONCEPT_NAMES.get(concept, concept.replace("_", " ").capitalize()),
                    stem=item.stem,
                    wording=item.wording,
                    no_label=no,
                    yes_label=yes,
                    asked_by=(code,),
                )
            elif code not in known.asked_by:
                first[concept] = replace(known, asked_by=(*known.asked_by, code))
    return tuple(first.values())


SYMPTOM_QUESTIONS: tuple[SymptomQuestion, ...] = _symptom_questions()
FEEL_QUESTIONS = tuple(q for q in SYMPTOM_QUESTIONS if q.concept not in SELF_TEST_CONCEPTS)
SELF_TEST_QUESTIONS = tuple(q for q in SYMPTOM_QUESTIONS if q.concept in SELF_TEST_CONCEPTS)


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class DurationOption(Option):
    # A representative value for the band (its middle; 18 for "more than a year") that a
    # clinician's intake form may prefill and confirm. Every value lies on the right side of the
    # 3-month line, so ``is_chronic(months)`` agrees with the band the person chose.
    months: float


DURATIONS: tuple[DurationOption, ...] = (
    DurationOption("under_1", "Less than 1 month", 0.5),
    DurationOption("1_to_3", "1 to 3 months", 2.0),
    DurationOption("3_to_6", "More than 3 months, up to 6 months", 4.5),
    DurationOption("6_to_12", "6 to 12 months", 9.0),
    DurationOption("over_12", "More than a year", 18.0),
)

REGIONS: tuple[Option, ...] = (
    Option("head_face", "Head or face"),
    Option("neck", "Neck"),
    Option("shoulders_arms", "Shoulders or arms"),
    Option("hands", "Hands or fingers"),
    Option("chest", "Chest"),
    Option("abdomen", "Belly (abdomen)"),
    Option("upper_back", "Upper back"),
    Option("lower_back", "Lower back"),
    Option("hips_buttocks", "Hips or buttocks"),
    Option("legs", "Legs"),
    Option("feet", "Feet or toes"),
    Option("widespread", "All over, or in many places"),
)

NONE = "none"
UNKNOWN = "unknown"

TRIGGERS: tuple[Option, ...] = (
    Option("touch", "Light touch, such as clothing, bed sheets or a breeze"),
    Option("pressure", "Pressure, such as sitting, tight shoes or leaning on it"),
    Option("cold", "Cold"),
    Option("heat", "Heat"),
    Option(NONE, "None of these: it comes on by itself"),
)

CONDITIONS: tuple[Option, ...] = (
    Option("diabetes", "Diabetes"),
    Option("multiple_sclerosis", "Multiple sclerosis (MS)"),
    Option("shingles", "Shingles"),
    Option("nerve_injury", "A nerve injury, for example after an accident or surgery"),
    Option("syphilis", "Syphilis"),
    Option("other", "Another condition"),
    Option(UNKNOWN, "None that I know of, or I am not sure"),
)

TREATMENTS: tuple[Option, ...] = (
    *(Option(code, therapy.label) for code, therapy in THERAPIES.items()),
    Option(NONE, "None of these"),
)


@dataclass(frozen=True)
class RedFlag:
    key: str
    name: str
    question: str


RED_FLAGS: tuple[RedFlag, ...] = (
    RedFlag(
        "spreading_weakness",
        "Sudden weakness or spreading numbness",
        "Have you suddenly become weak, or has numbness been spreading, for example up a leg "
        "or across your body?",
    ),
    RedFlag(
        "bladder_bowel",
        "Loss of bladder or bowel control",
        "Have you lost control of your bladder or your bowels since the pain started?",
    ),
    RedFlag(
        "fever",
        "Pain with a fever",
        "Do you have a fever (a temperature of 38 °C / 100.4 °F or more) along with the pain?",
    ),
    RedFlag(
        "major_injury",
        "Pain after a major injury",
        "Did the pain start after a major injury, such as a bad fall or a road accident?",
    ),
    RedFlag(
        "chest_pain",
        "Chest pain",
        "Do you have chest pain, pressure or tightness now?",
    ),
)
RED_FLAG_NAMES: Mapping[str, str] = MappingProxyType({f.key: f.name for f in RED_FLAGS})


@dataclass(frozen=True)
class Step:
    slug: str
    title: str


STEPS: tuple[Step, ...] = (
    Step("feel", "How the pain feels"),
    Step("duration", "How long you have had it"),
    Step("where", "Where it hurts"),
    Step("triggers", "What sets it off"),
    Step("conditions", "Conditions you know about"),
    Step("treatments", "Treatments you have tried"),
    Step("self-tests", "Two quick self-tests"),
    Step("warning-signs", "Warning signs"),
)
STEP_SLUGS: tuple[str, ...] = tuple(step.slug for step in STEPS)


def step_index(slug: str) -> int:
    """Position of a step (0-based); ``KeyError`` for an unknown step."""
    try:
        return STEP_SLUGS.index(slug)
    except ValueError:
        raise KeyError(slug) from None


# --- evaluating a complete set of answers -------------------------------------------------------


def is_chronic(months: float) -> bool:
    """Longer than 3 months; exactly 3 months is not yet chronic."""
    return months > CHRONIC_AFTER_MONTHS


def _yes_no_answers(step: str, data: Mapping[str, object], keys: Sequence[str]) -> dict[str, bool]:
    values: dict[str, bool] = {}
    for key in keys:
        value = data.get(key)
        if not isinstance(value, bool):
            raise ValueError(f"{step}.{key}: answer yes or no")
        values[key] = value
    return values


def _choices(
    step: str,
    data: Mapping[str, object],
    field: str,
    options: Sequence[Option],
    exclusive: str | None,
) -> list[str]:
    value = data.get(field)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{step}.{field}: choose at least one")
    allowed = {option.value for option in options}
    for choice in value:
        if not isinstance(choice, str) or choice not in allowed:
            raise ValueError(f"{step}.{field}: {choice!r} is not one of the choices")
    if exclusive is not None and exclusive in value and len(value) > 1:
        raise ValueError(f"{step}.{field}: {exclusive!r} cannot be combined with other choices")
    return list(value)


@dataclass(frozen=True)
class Outcome:
    scores: dict[str, Score]
    duration: str
    duration_months: float
    chronic: bool
    red_flags: tuple[str, ...]
    answers: dict[str, dict[str, object]]  # the validated answers, by step

    @property
    def any_positive(self) -> bool:
        return any(s.positive for s in self.scores.values())


def instrument_answers(concepts: Mapping[str, bool]) -> dict[str, dict[str, bool]]:
    """Each screening instrument's item answers, from one answer per concept."""
    result: dict[str, dict[str, bool]] = {}
    for code in SCREENING_CODES:
        answers: dict[str, bool] = {}
        for item in REGISTRY[code].items:
            assert item.concept is not None  # checked when the questions were built
            also = ALSO_COUNTS.get((code, item.key), ())
            answers[item.key] = concepts[item.concept] or any(concepts[c] for c in also)
        result[code] = answers
    return result


def evaluate(answers: Mapping[str, Mapping[str, object]]) -> Outcome:
    """Validate every step's answers and score them. ``ValueError`` names the first bad field."""
    for slug in STEP_SLUGS:
        if not isinstance(answers.get(slug), Mapping):
            raise ValueError(f"{slug}: this step has not been answered")
    unknown = sorted(set(answers) - set(STEP_SLUGS))
    if unknown:
        raise ValueError(f"{unknown[0]}: not a step of the self-check")
    feel = _yes_no_answers("feel", answers["feel"], [q.concept for q in FEEL_QUESTIONS])
    tests = _yes_no_answers(
        "self-tests", answers["self-tests"], [q.concept for q in SELF_TEST_QUESTIONS]
    )
    flags = _yes_no_answers("warning-signs", answers["warning-signs"], [f.key for f in RED_FLAGS])
    duration = answers["duration"].get("duration")
    band = next((d for d in DURATIONS if d.value == duration), None)
    if band is None:
        raise ValueError("duration.duration: choose how long you have had the pain")
    validated: dict[str, dict[str, object]] = {
        "feel": dict(feel),
        "duration": {"duration": band.value},
        "where": {"regions": _choices("where", answers["where"], "regions", REGIONS, None)},
        "triggers": {
            "triggers": _choices("triggers", answers["triggers"], "triggers", TRIGGERS, NONE)
        },
        "conditions": {
            "conditions": _choices(
                "conditions", answers["conditions"], "conditions", CONDITIONS, UNKNOWN
            )
        },
        "treatments": {
            "treatments": _choices(
                "treatments", answers["treatments"], "treatments", TREATMENTS, NONE
            )
        },
        "self-tests": dict(tests),
        "warning-signs": dict(flags),
    }
    per_instrument = instrument_answers({**feel, **tests})
    scores = {code: score(code, per_instrument[code]) for code in SCREENING_CODES}
    return Outcome(
        scores=scores,
        duration=band.value,
        duration_months=band.months,
        chronic=is_chronic(band.months),
        red_flags=tuple(f.key for f in RED_FLAGS if flags[f.key]),
        answers=validated,
    )
