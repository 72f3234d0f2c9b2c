"""The neuropathic-pain screening questionnaires: DN4, its interview items, ID Pain and S-LANSS.

Data: every item's wording, answer labels and points as published, with the scoring, cut-off,
bands, source and licence of each instrument (docs/clinical-sources.md §3.1-§3.3, cited beside
each ``source``). Kept apart from ``clinical.instruments``, which registers and scores them, so the
wording can be checked against the papers line by line without the scorer in between.

``CONCEPTS`` records which symptoms the instruments share, so a self-check can ask a shared
symptom once (see the ``clinical.instruments`` docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ketaclinic.clinical.instrument_model import Band, Choice, Instrument, Item

__all__ = ["CONCEPTS", "SCREENING_INSTRUMENTS"]


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


SCREENING_INSTRUMENTS: tuple[Instrument, ...] = (_DN4, _DN4_INTERVIEW, _ID_PAIN, _S_LANSS)
"""The screening instruments, in the order ``clinical.instruments.REGISTRY`` lists them."""
