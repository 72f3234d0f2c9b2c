"""Questionnaire: the instruments the clinic gives its patients, built from the instrument
registry (``clinical.instruments.REGISTRY``), never from a copy: the neuropathic screening
questionnaires (the full DN4 of the examination, the DN4 interview items, ID Pain and S-LANSS of
the self-check) and the diary's scales (NRS, PEG, PGIC). Each item is the registry's item (its
key as the linkId, its wording, every answer with its label and its points as the answer's
ordinal value), and the description says how it is scored and cites the instrument's
publication; the registry's licence note is the copyright.

Left out: the scales only clinicians chart during an infusion (RASS, MOAA/S, the modified
Aldrete score: ``administered_by`` "clinician"), and the instruments the product does not build
in because they need a licence (BPI, painDETECT, PROMIS: ``instruments.NOT_BUILT_IN``).

Not patient data: any signed-in reader, and any token whose scopes name Questionnaire, reads
them all; no query is made. A QuestionnaireResponse names its questionnaire by
``questionnaire_url`` and its answers by ``answer_coding``, so both say the same.
"""

from __future__ import annotations

from typing import Any

from ketaclinic.clinical import codes
from ketaclinic.clinical.instruments import NOT_BUILT_IN, REGISTRY, Band, Instrument, Item
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import Computed, ResourceType, no_table, pruned
from ketaclinic.fhir.search import Param, listed
from ketaclinic.outcomes.models import NRS_LOINC

QUESTIONNAIRE_BASE = "https://ketaclinic.org/fhir/Questionnaire/"
# The answers' codes: "yes" and "no", or the number chosen; each option's display is the
# registry's label and its ordinal value the points it scores.
ANSWER_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/instrument-answer"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"

# The instruments patients answer (alone, or with a clinician: the DN4's examination items).
SERVED: dict[str, Instrument] = {
    code: instrument
    for code, instrument in REGISTRY.items()
    if instrument.administered_by != "clinician" and code not in NOT_BUILT_IN
}
# The item whose answer is the NRS's Observation (LOINC 72514-3 in the project's code table).
_LOINC_ITEMS = {("nrs", "pain"): NRS_LOINC}


def questionnaire_id(instrument_code: str) -> str:
    """The Questionnaire's id: the registry's code, already a lowercase slug (``s-lanss``)."""
    if instrument_code not in SERVED:
        raise KeyError(f"{instrument_code!r} is not an instrument the API serves")
    return instrument_code


def questionnaire_url(instrument_code: str) -> str:
    """The canonical url of an instrument's Questionnaire (``KeyError`` for one not served)."""
    return QUESTIONNAIRE_BASE + questionnaire_id(instrument_code)


def answer_code(value: bool | int) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _coding(item: Item, value: bool | int) -> dict[str, Any]:
    for choice in item.choices:
        # ``type(...) is``: True is not the choice 1 (as ``Item.points_for``).
        if type(choice.value) is type(value) and choice.value == value:
            return {
                "extension": [{"url": ORDINAL_VALUE, "valueDecimal": choice.points}],
                "system": ANSWER_SYSTEM,
                "code": answer_code(value),
                "display": choice.label,
            }
    raise KeyError(f"{item.key}: {value!r} is not an allowed answer")


def answer_coding(instrument_code: str, item_key: str, value: bool | int) -> dict[str, Any]:
    """The coding of a stored answer, as the Questionnaire's answer option gives it."""
    return _coding(SERVED[instrument_code].item(item_key), value)


def _number(value: float) -> str:
    return f"{value:g}"


def _band(band: Band) -> str:
    if band.lower == band.upper:
        return f"{_number(band.lower)}: {band.label}"
    upto = "to" if band.includes_upper else "to under"
    return f"{_number(band.lower)} {upto} {_number(band.upper)}: {band.label}"


def scoring_rule(instrument: Instrument) -> str:
    """How the instrument is scored, in words, from the registry's own numbers."""
    how = (
        "the mean of the answers"
        if instrument.aggregation == "mean"
        else "the sum of the points of the answers"
    )
    rule = f"The score is {how}, from {_number(instrument.minimum)} to"
    rule += f" {_number(instrument.maximum)}."
    if instrument.cutoff is not None:
        meaning = instrument.positive_meaning or "positive"
        rule += f" {_number(instrument.cutoff)} or more: {meaning}."
    bands = "; ".join(_band(band) for band in instrument.bands)
    return f"{rule} Bands: {bands}."


def _items(instrument: Instrument) -> list[dict[str, Any]]:
    """The questions in the registry's order; each shared heading of the printed instrument
    (DN4's four questions) as a display item before the questions under it, so the answers
    stay a flat list keyed by the registry's item keys."""
    found: list[dict[str, Any]] = []
    stem: str | None = None
    headings = 0
    for item in instrument.items:
        if item.stem is not None and item.stem != stem:
            headings += 1
            found.append({"linkId": f"heading-{headings}", "text": item.stem, "type": "display"})
        stem = item.stem
        question: dict[str, Any] = {
            "linkId": item.key,
            "text": item.wording,
            "type": "choice",
            "required": True,
            "answerOption": [{"valueCoding": _coding(item, c.value)} for c in item.choices],
        }
        loinc = _LOINC_ITEMS.get((instrument.code, item.key))
        if loinc is not None:
            code = codes.lookup(codes.LOINC.key, loinc, field="loinc")
            question["code"] = [
                {"system": codes.LOINC.uri, "code": code.code, "display": code.display}
            ]
        found.append(question)
    return found


def computer_name(instrument: Instrument) -> str:
    """Questionnaire.name, usable as an identifier: ``S_LANSS``, ``DN4_INTERVIEW``."""
    return instrument.code.upper().replace("-", "_")


def questionnaire(instrument: Instrument) -> dict[str, Any]:
    description = "\n\n".join(
        (
            instrument.instructions,
            f"Answered by the {instrument.administered_by}.",
            scoring_rule(instrument),
            f"Source: {instrument.source}",
        )
    )
    return pruned(
        {
            "resourceType": "Questionnaire",
            "id": questionnaire_id(instrument.code),
            "url": questionnaire_url(instrument.code),
            "name": computer_name(instrument),
            "title": instrument.name,
            "status": "active",
            "subjectType": ["Patient"],
            "description": description,
            "copyright": instrument.licence,
            "item": _items(instrument),
        }
    )


def _every(reader: FhirReader) -> list[Instrument]:
    return list(SERVED.values())


def _rows(reader: FhirReader, narrowed: list[Instrument], after: str | None) -> list[Instrument]:
    return narrowed


def _url_is(instrument: Instrument, value: str) -> bool:
    return questionnaire_url(instrument.code) == value.split("|", 1)[0]


def _name_starts(instrument: Instrument, value: str) -> bool:
    return computer_name(instrument).lower().startswith(value.lower())


QUESTIONNAIRE = ResourceType(
    name="Questionnaire",
    rows=no_table,
    to_fhir=questionnaire,
    params={
        "_id": Param(
            "token", listed(lambda i, value: i.code == value), "The instrument's code (dn4)."
        ),
        "url": Param("uri", listed(_url_is), "The canonical url (a version after | is ignored)."),
        "name": Param(
            "string", listed(_name_starts), "The computer name (S_LANSS), from its start."
        ),
    },
    computed=Computed(start=_every, rows=_rows, id_of=lambda instrument: instrument.code),
    doc=(
        "The instruments patients answer, from the clinic's instrument registry: DN4, the DN4"
        " interview, ID Pain, S-LANSS, the pain NRS, PEG and PGIC, with their scoring."
    ),
)
