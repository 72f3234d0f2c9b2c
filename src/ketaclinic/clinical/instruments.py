"""Validated questionnaires and bedside scales, and how each is scored.

``score(code, answers)`` scores one completed instrument; ``REGISTRY`` describes every instrument of
the clinical contract (items with their wording, allowed answers and points, range, cut-off,
bands, source and licence note), so forms, the REST API and FHIR export all read one definition.

Scoring rules, cut-offs and evidence come from docs/clinical-sources.md §3 (each instrument's
section is in a comment beside its ``source``, which cites the publication itself) and
docs/clinical-policy.md "Screening instruments [3]". The self-check uses the DN4
interview items, ID Pain and S-LANSS; the clinician uses the full DN4; NRS, PEG and PGIC are the
diary and outcome scales; RASS, MOAA/S and the modified Aldrete score are charted during and after
an infusion. ``CHARTING_SCALES`` adds CADSS-6 for dissociation: it is scored by the same function
but kept out of ``REGISTRY`` because it is not part of the contract's instrument list.

Not built in (see ``NOT_BUILT_IN``): the Brief Pain Inventory, painDETECT and PROMIS measures need
a licence or written permission before a platform may embed them
(docs/clinical-sources.md §3.4, §6.2, §6.4). A screening result is never a diagnosis, and
screening tools miss 10-20% of neuropathic pain (NeuPSIG 2016; docs/clinical-sources.md §3.6), so a
negative screen must never block a booking.

Shared symptom concepts: the screening items carry a ``concept`` so a self-check can ask a shared
symptom once and reuse the answer for each instrument that asks it. Two items share a concept only
when a "yes" to one is a "yes" to the other as worded; ``CONCEPTS`` records each judgement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, cast

from ketaclinic.clinical._validate import bool_problem, int_problem, type_name

__all__ = [
    "CHARTING_SCALES",
    "CONCEPTS",
    "NOT_BUILT_IN",
    "REGISTRY",
    "Band",
    "Choice",
    "Instrument",
    "InvalidAnswers",
    "Item",
    "Score",
    "UnknownInstrument",
    "get_instrument",
    "score",
]


class UnknownInstrument(ValueError):  # noqa: N818  (name fixed by the clinical contract)
    """The instrument code is not one this module scores."""

    def __init__(self, code: object) -> None:
        self.code = code
        known = ", ".join(sorted(_ALL))
        super().__init__(f"code: unknown instrument {code!r}; known instruments: {known}")


class InvalidAnswers(ValueError):  # noqa: N818  (name fixed by the clinical contract)
    """Some answers are missing, unknown, of the wrong type or out of range.

    ``errors`` maps each bad item key to what is wrong with it (every bad item, not just the
    first), so the REST API can return them as 422 details and a form can mark each field.
    """

    def __init__(self, code: str, errors: Mapping[str, str]) -> None:
        self.code = code
        self.errors: dict[str, str] = dict(errors)
        detail = "; ".join(f"{key}: {message}" for key, message in self.errors.items())
        super().__init__(f"invalid answers for {code}: {detail}")


@dataclass(frozen=True)
class Choice:
    """One allowed answer to an item, as shown to the person answering, and its points."""

    value: bool | int
    label: str
    points: int


@dataclass(frozen=True)
class Item:
    """One question of an instrument.

    ``stem`` is the shared heading the item sits under in the printed instrument (DN4 asks
    "Does the pain have one or more of the following characteristics?" and then lists "Burning"),
    ``wording`` the item itself. ``answer_type`` says whether the answer is a ``bool`` (yes/no) or
    an ``int``; ``choices`` lists every allowed value with its points. ``concept`` names the symptom
    a self-check may ask once for several instruments (see ``CONCEPTS``); it is None outside the
    neuropathic screening instruments.
    """

    key: str
    wording: str
    answer_type: Literal["bool", "int"]
    choices: tuple[Choice, ...]
    stem: str | None = None
    concept: str | None = None

    @property
    def allowed(self) -> tuple[bool | int, ...]:
        return tuple(choice.value for choice in self.choices)

    @property
    def points(self) -> Mapping[bool | int, int]:
        """Points for each allowed answer, e.g. ``{False: 0, True: 5}`` for an S-LANSS item."""
        return MappingProxyType({choice.value: choice.points for choice in self.choices})

    def points_for(self, value: bool | int) -> int:
        """Points for an allowed answer; ``KeyError`` for anything else (validate first)."""
        for choice in self.choices:
            # `type(...) is` keeps True from matching the choice 1 (True == 1 in Python).
            if type(choice.value) is type(value) and choice.value == value:
                return choice.points
        raise KeyError(f"{self.key}: {value!r} is not an allowed answer")


@dataclass(frozen=True)
class Band:
    """A labelled range of totals: ``lower <= total < upper``, or ``total == upper`` when
    ``includes_upper``.

    Half-open bands let the PEG (a mean of three items, so totals such as 11/3) fall into exactly
    one band without gaps; the top band of each instrument includes its upper bound, and one-value
    bands (a RASS level) are written ``Band(v, v, label, includes_upper=True)``.
    """

    lower: float
    upper: float
    label: str
    includes_upper: bool = False

    def contains(self, total: float) -> bool:
        return self.lower <= total < self.upper or (self.includes_upper and total == self.upper)


@dataclass(frozen=True)
class Instrument:
    """Everything needed to present, validate, score and cite one instrument.

    ``minimum``/``maximum`` are the range of the total; ``cutoff`` is the total at or above which
    the result is positive (``positive_meaning`` says what positive means), or None. ``aggregation``
    is ``"sum"`` for every instrument except the PEG, whose total is the mean of its items.
    """

    code: str
    name: str
    items: tuple[Item, ...]
    minimum: float
    maximum: float
    cutoff: float | None
    bands: tuple[Band, ...]
    source: str
    licence: str
    instructions: str
    administered_by: Literal["patient", "clinician", "patient and clinician"]
    positive_meaning: str | None = None
    aggregation: Literal["sum", "mean"] = "sum"

    @property
    def range(self) -> tuple[float, float]:
        """``(minimum, maximum)`` of the total."""
        return (self.minimum, self.maximum)

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f"{self.code} has no item {key!r}")

    def band_for(self, total: float) -> str:
        for band in self.bands:
            if band.contains(total):
                return band.label
        # Only reachable if the registry's bands leave a gap; the tests enumerate every total.
        raise ValueError(f"total: {total!r} falls in no band of {self.code}")


@dataclass(frozen=True)
class Score:
    """The scored result. ``positive`` is ``total >= cutoff``, or None without a cut-off."""

    code: str
    total: float
    maximum: float
    cutoff: float | None
    positive: bool | None
    band: str
    source: str


# --- building blocks -------------------------------------------------------------------------


def _yes_no(
    key: str,
    wording: str,
    points: int,
    *,
    stem: str | None = None,
    concept: str | None = None,
    no: str = "No",
    yes: str = "Yes",
) -> Item:
    return Item(
        key=key,
        wording=wording,
        answer_type="bool",
        choices=(Choice(False, no, 0), Choice(True, yes, points)),
        stem=stem,
        concept=concept,
    )


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


# --- shared symptom concepts -----------------------------------------------------------------

CONCEPTS: Mapping[str, str] = MappingProxyType(
    {
        "burning": (
            "Burning pain. DN4 'burning', ID Pain 'hot/burning' and S-LANSS 'skin feels unusually "
            "hot like a burning pain' all ask whether the pain burns; S-LANSS adds heat of the "
            "skin, which a burning pain in the painful area already answers. One point in S-LANSS."
        ),
        "painful_cold": "DN4 only: the pain feels like painful cold.",
        "electric_shocks": (
            "Pain that feels like electric shocks (DN4 'electric shocks', ID Pain 'electrical "
            "shocks'). Not shared with S-LANSS 'sudden_bursts', which asks about pain coming on "
            "suddenly, in bursts, for no reason while completely still (spontaneous paroxysms); "
            "electric shocks are only its example, and shock-like pain that is provoked (by touch "
            "or movement) answers yes to DN4 and ID Pain but no to S-LANSS."
        ),
        "sudden_bursts": "S-LANSS only: spontaneous bursts of pain while completely still.",
        "tingling": (
            "DN4 only: tingling. Kept apart from pins and needles because DN4 scores them as two "
            "items."
        ),
        "pins_and_needles": (
            "Pins and needles in the painful area (DN4, ID Pain, S-LANSS). S-LANSS words it "
            "'pins and needles, tingling or prickling', which is broader: a form that asks the "
            "shared question once should show the S-LANSS wording or also count a DN4 'tingling' "
            "yes as an S-LANSS yes."
        ),
        "numbness": (
            "Numbness in the painful area (DN4 'numbness' as an associated symptom, ID Pain "
            "'did the pain feel numb?')."
        ),
        "itching": "DN4 only: itching in the painful area.",
        "touch_evoked_pain": (
            "Pain or unpleasant sensation provoked by light touch, as the patient reports it "
            "(ID Pain 'made worse with the touch of clothing or bed sheets', S-LANSS 'abnormally "
            "sensitive to touch'). DN4 'brushing' is a clinician's examination finding and has "
            "its own concept."
        ),
        "touch_hypoesthesia": "DN4 examination: reduced touch sensation in the painful area.",
        "pinprick_hypoesthesia": "DN4 examination: reduced pinprick sensation in the painful area.",
        "brushing_allodynia": "DN4 examination: brushing causes or increases the pain.",
        "skin_colour_change": "S-LANSS only: the painful area changes colour when the pain is bad.",
        "rub_self_test": "S-LANSS self-test: rubbing the painful area feels different.",
        "press_self_test": "S-LANSS self-test: pressing the painful area feels numb or tender.",
        "limited_to_joints": "ID Pain only: the pain is limited to the joints (scores -1).",
    }
)


# --- DN4 -------------------------------------------------------------------------------------
# Bouhassira 2005 English version; yes = 1. Questions 1-2 are the interview, 3-4 the examination.

_DN4_Q1 = "Does the pain have one or more of the following characteristics?"
_DN4_Q2 = "Is the pain associated with one or more of the following symptoms in the same area?"
_DN4_Q3 = (
    "Is the pain located in an area where the physical examination may reveal one or more of "
    "the following characteristics?"
)
_DN4_Q4 = "In the painful area, can the pain be caused or increased by:"

_DN4_INTERVIEW_ITEMS = (
    _yes_no("burning", "Burning", 1, stem=_DN4_Q1, concept="burning"),
    _yes_no("painful_cold", "Painful cold", 1, stem=_DN4_Q1, concept="painful_cold"),
    _yes_no("electric_shocks", "Electric shocks", 1, stem=_DN4_Q1, concept="electric_shocks"),
    _yes_no("tingling", "Tingling", 1, stem=_DN4_Q2, concept="tingling"),
    _yes_no("pins_and_needles", "Pins and needles", 1, stem=_DN4_Q2, concept="pins_and_needles"),
    _yes_no("numbness", "Numbness", 1, stem=_DN4_Q2, concept="numbness"),
    _yes_no("itching", "Itching", 1, stem=_DN4_Q2, concept="itching"),
)
_DN4_EXAM_ITEMS = (
    _yes_no(
        "touch_hypoesthesia",
        "Hypoesthesia to touch",
        1,
        stem=_DN4_Q3,
        concept="touch_hypoesthesia",
    ),
    _yes_no(
        "pinprick_hypoesthesia",
        "Hypoesthesia to pinprick",
        1,
        stem=_DN4_Q3,
        concept="pinprick_hypoesthesia",
    ),
    _yes_no("brushing", "Brushing", 1, stem=_DN4_Q4, concept="brushing_allodynia"),
)

_DN4_SOURCE = (
    "Bouhassira D et al. Comparison of pain syndromes associated with nervous or somatic lesions "
    "and development of a new neuropathic pain diagnostic questionnaire (DN4). "
    "Pain 2005;114(1-2):29-36."
)
# docs/clinical-sources.md §3.1 (licensing)
_DN4_LICENCE = (
    "Copyright of its authors (French Neuropathic Pain Group, Bouhassira); translations are "
    "distributed by Mapi Research Trust (ePROVIDE). Often free for non-commercial clinical or "
    "academic use; embedding in commercial software likely needs a licence. Not verified: confirm "
    "with ePROVIDE before deployment (not confirmed in a primary source; low confidence)."
)

_DN4 = Instrument(
    code="dn4",
    name="DN4 (Douleur Neuropathique en 4 questions)",
    items=_DN4_INTERVIEW_ITEMS + _DN4_EXAM_ITEMS,
    minimum=0,
    maximum=10,
    cutoff=4,
    bands=(
        Band(0, 4, "unlikely neuropathic"),
        Band(4, 10, "likely neuropathic", includes_upper=True),
    ),
    # docs/clinical-sources.md §3.1
    source=(
        f"{_DN4_SOURCE} Total 0-10, 4 or more = likely neuropathic (Perez 2007, Health Qual Life "
        "Outcomes 5:66)."
    ),
    licence=_DN4_LICENCE,
    instructions=(
        "Questions 1 and 2 are asked in an interview; questions 3 and 4 are answered by the "
        "clinician from a bedside examination of the painful area. Yes scores 1, no scores 0."
    ),
    administered_by="patient and clinician",
    positive_meaning="likely neuropathic pain (a screening result, not a diagnosis)",
)

_DN4_INTERVIEW = Instrument(
    code="dn4-interview",
    name="DN4 interview (DN4i, the seven symptom items of DN4)",
    items=_DN4_INTERVIEW_ITEMS,
    minimum=0,
    maximum=7,
    cutoff=3,
    bands=(
        Band(0, 3, "unlikely neuropathic"),
        Band(3, 7, "likely neuropathic", includes_upper=True),
    ),
    # docs/clinical-sources.md §3.1
    source=(
        f"{_DN4_SOURCE} Interview items 1-7 only, total 0-7, 3 or more = likely neuropathic "
        "(cut-off taken from a secondary summary, not the primary paper; medium confidence)."
    ),
    licence=_DN4_LICENCE,
    instructions=(
        "Answer yes or no for each description of the pain and of symptoms in the same area. "
        "Yes scores 1, no scores 0."
    ),
    administered_by="patient",
    positive_meaning="likely neuropathic pain (a screening result, not a diagnosis)",
)


# --- ID Pain ---------------------------------------------------------------------------------

_ID_PAIN = Instrument(
    code="id-pain",
    name="ID Pain",
    items=(
        _yes_no(
            "pins_and_needles",
            "Did the pain feel like pins and needles?",
            1,
            concept="pins_and_needles",
        ),
        _yes_no("hot_burning", "Did the pain feel hot/burning?", 1, concept="burning"),
        _yes_no("numb", "Did the pain feel numb?", 1, concept="numbness"),
        _yes_no(
            "electrical_shocks",
            "Did the pain feel like electrical shocks?",
            1,
            concept="electric_shocks",
        ),
        _yes_no(
            "worse_with_touch",
            "Is the pain made worse with the touch of clothing or bed sheets?",
            1,
            concept="touch_evoked_pain",
        ),
        # The one negatively scored item: pain confined to joints points to a nociceptive cause.
        _yes_no(
            "limited_to_joints",
            "Is the pain limited to your joints?",
            -1,
            concept="limited_to_joints",
        ),
    ),
    minimum=-1,
    maximum=5,
    cutoff=2,
    bands=(
        Band(-1, 1, "unlikely neuropathic"),
        Band(1, 2, "borderline"),
        Band(2, 4, "possibly neuropathic"),
        Band(4, 5, "likely neuropathic", includes_upper=True),
    ),
    # docs/clinical-sources.md §3.3
    source=(
        "Portenoy R; ID Pain Steering Committee. Development and testing of a neuropathic pain "
        "screening questionnaire: ID Pain. Curr Med Res Opin 2006;22(8):1555-1565. Range -1 to 5; "
        "cut-off 2 (Turkish validation: sensitivity 77.2%, specificity 85%); bands -1..0 unlikely, "
        "1 borderline, 2-3 possible, 4-5 likely."
    ),
    licence=(
        "Developed with industry support (Endo); generally reproduced freely. Licence terms not "
        "found in a primary source; low confidence."
    ),
    instructions=(
        "Answer yes or no to each question about your pain over the past week. Items 1-5 score 1 "
        "for yes; 'limited to your joints' scores -1 for yes."
    ),
    administered_by="patient",
    positive_meaning="consider neuropathic pain (a screening result, not a diagnosis)",
)


# --- S-LANSS ---------------------------------------------------------------------------------

_S_LANSS = Instrument(
    code="s-lanss",
    name="S-LANSS (self-report Leeds Assessment of Neuropathic Symptoms and Signs)",
    items=(
        _yes_no(
            "pins_and_needles",
            'In the area where you have pain, do you also have "pins and needles", tingling or '
            "prickling sensations?",
            5,
            concept="pins_and_needles",
            no="No - I don't get these sensations",
            yes="Yes - I get these sensations",
        ),
        _yes_no(
            "skin_color_change",
            "Does the painful area change colour (perhaps looks mottled or more red) when the "
            "pain is particularly bad?",
            5,
            concept="skin_colour_change",
            no="No - the pain does not affect the colour of my skin",
            yes="Yes - I have noticed that the pain does make my skin look different from normal",
        ),
        _yes_no(
            "touch_sensitive",
            "Does your pain make the affected skin abnormally sensitive to touch? Getting "
            "unpleasant sensations or pain when lightly stroking the skin might describe this.",
            3,
            concept="touch_evoked_pain",
            no="No - the pain does not make my skin in that area abnormally sensitive to touch",
            yes="Yes - my skin in that area is particularly sensitive to touch",
        ),
        _yes_no(
            "sudden_bursts",
            "Does your pain come on suddenly and in bursts for no apparent reason when you are "
            'completely still? Words like "electric shocks", jumping and bursting might describe '
            "this.",
            2,
            concept="sudden_bursts",
            no="No - my pain doesn't really feel like this",
            yes="Yes - I get these sensations often",
        ),
        _yes_no(
            "hot_burning",
            "In the area where you have pain, does your skin feel unusually hot like a burning "
            "pain?",
            1,
            concept="burning",
            no="No - I don't have burning pain",
            yes="Yes - I get burning pain often",
        ),
        _yes_no(
            "rub_test",
            "Gently rub the painful area with your index finger and then rub a non-painful area "
            "(for example, an area of skin further away or on the opposite side from the painful "
            "area). How does this rubbing feel in the painful area?",
            5,
            concept="rub_self_test",
            no="The painful area feels no different from the non-painful area",
            yes="I feel discomfort, like pins and needles, tingling or burning in the painful "
            "area that is different from the non-painful area",
        ),
        _yes_no(
            "press_test",
            "Gently press on the painful area with your finger tip then gently press in the same "
            "way onto a non-painful area (the same non-painful area that you chose in the last "
            "question). How does this feel in the painful area?",
            3,
            concept="press_self_test",
            no="The painful area does not feel different from the non-painful area",
            yes="I feel numbness or tenderness in the painful area that is different from the "
            "non-painful area",
        ),
    ),
    minimum=0,
    maximum=24,
    cutoff=12,
    bands=(
        Band(0, 12, "unlikely neuropathic"),
        Band(12, 24, "likely neuropathic", includes_upper=True),
    ),
    # docs/clinical-sources.md §3.2
    source=(
        "Bennett MI, Smith BH, Torrance N, Potter J. The S-LANSS score for identifying pain of "
        "predominantly neuropathic origin: validation for use in clinical and postal research. "
        "J Pain 2005;6(3):149-158. doi:10.1016/j.jpain.2004.11.007. Total 0-24, 12 or more = "
        "predominantly neuropathic."
    ),
    licence=(
        "Copyright of the author/journal; widely reproduced and generally permitted for clinical "
        "and research use. Permission for commercial embedding not verified (not confirmed in a "
        "primary source; low confidence)."
    ),
    instructions=(
        "Think about how your pain has felt over the last week and answer each question; the "
        "last two are self-tests of the painful area. Points for yes: 5, 5, 3, 2, 1, 5, 3."
    ),
    administered_by="patient",
    positive_meaning="pain of predominantly neuropathic origin likely (a screening result)",
)


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


REGISTRY: Mapping[str, Instrument] = MappingProxyType(
    {
        instrument.code: instrument
        for instrument in (
            _DN4,
            _DN4_INTERVIEW,
            _ID_PAIN,
            _S_LANSS,
            _NRS,
            _PEG,
            _PGIC,
            _RASS,
            _MOAAS,
            _ALDRETE,
        )
    }
)
"""The contract's instruments, by code."""

CHARTING_SCALES: Mapping[str, Instrument] = MappingProxyType({_CADSS6.code: _CADSS6})
"""Scales the infusion chart needs beyond the contract list; ``score`` accepts them too."""

_ALL: Mapping[str, Instrument] = MappingProxyType({**REGISTRY, **CHARTING_SCALES})

# docs/clinical-sources.md §6.2, §3.4, §6.4 (BPI, painDETECT, PROMIS)
NOT_BUILT_IN: Mapping[str, str] = MappingProxyType(
    {
        "bpi": (
            "Brief Pain Inventory: copyright Charles S. Cleeland, licensed by MD Anderson; fees "
            "may apply and a licence is needed before embedding (MD Anderson BPI user guide)."
        ),
        "paindetect": (
            "painDETECT (Freynhagen R et al. Curr Med Res Opin 2006): copyrighted (originally "
            "Pfizer Pharma GmbH); not free for commercial use, treat as licensed (licence terms "
            "not confirmed in a primary source)."
        ),
        "promis": (
            "PROMIS Pain Interference and Intensity: copyright HealthMeasures; integration into "
            "software needs written permission (HEAP) (HealthMeasures terms of use)."
        ),
    }
)
"""Instruments deliberately not built in, with the reason."""


def get_instrument(code: str) -> Instrument:
    """The instrument for ``code`` (contract list or charting scale), or ``UnknownInstrument``."""
    if isinstance(code, str) and code in _ALL:
        return _ALL[code]
    raise UnknownInstrument(code)


def _key_text(key: object) -> str:
    return key if isinstance(key, str) else repr(key)


def _validated(instrument: Instrument, answers: object) -> dict[str, bool | int]:
    """Check every answer and return them by key, or raise ``InvalidAnswers`` listing all errors."""
    if not isinstance(answers, Mapping):
        raise InvalidAnswers(
            instrument.code,
            {"answers": f"must be a mapping of item key to answer, not {type_name(answers)}"},
        )
    errors: dict[str, str] = {}
    values: dict[str, bool | int] = {}
    for item in instrument.items:
        if item.key not in answers:
            errors[item.key] = "missing answer"
            continue
        value = answers[item.key]
        if item.answer_type == "bool":
            problem = bool_problem(value)
        else:
            lowest, highest = min(item.allowed), max(item.allowed)
            problem = int_problem(value, minimum=int(lowest), maximum=int(highest))
        if problem is None:
            values[item.key] = cast(bool | int, value)  # its type was checked just above
        else:
            errors[item.key] = problem
    for key in answers:
        if key not in instrument.item_keys:
            errors[_key_text(key)] = f"unknown item; {instrument.code} has no item {key!r}"
    if errors:
        raise InvalidAnswers(instrument.code, errors)
    return values


def score(code: str, answers: Mapping[str, object]) -> Score:
    """Score one completed instrument.

    Raises ``UnknownInstrument`` for an unknown code and ``InvalidAnswers`` (with ``errors`` for
    every bad item) for a missing item, an unknown extra item, or an answer of the wrong type or
    out of range. Booleans answer yes/no items only; integers answer numeric items only.
    """
    instrument = get_instrument(code)
    values = _validated(instrument, answers)
    points = [item.points_for(values[item.key]) for item in instrument.items]
    # PEG is the mean of its items; every other instrument is the sum of its points.
    total = sum(points) / len(points) if instrument.aggregation == "mean" else float(sum(points))
    cutoff = instrument.cutoff
    return Score(
        code=instrument.code,
        total=total,
        maximum=float(instrument.maximum),
        cutoff=None if cutoff is None else float(cutoff),
        positive=None if cutoff is None else total >= cutoff,
        band=instrument.band_for(total),
        source=instrument.source,
    )
