"""The FHIR API's one write: a patient app (or the patient's own signed-in session) posts a
QuestionnaireResponse for her pain diary, the daily NRS or the weekly PEG, and it becomes a
diary entry.

This module only reads the resource into the diary's arguments: the entry is saved by the diary
page's own service (``outcomes.api.diary_entry_record``), so the same rules refuse it (an answer
out of range or missing, a day in the future or before she joined) and the same audit event
records it; nothing here checks a value a second time. Who may write:

- a patient app's token whose scopes include ``patient/QuestionnaireResponse.write``, for the
  patient who authorized it;
- the patient herself, signed in to the web app (the view checks the CSRF token);
- nobody else: staff and backend systems are refused with a 403, another patient's record is a
  404 (as a read of it), and nothing is saved.

The response's ``authored`` is the day the entry is for, as the diary keeps it: a date, or a
moment, whose day is taken in the patient's own time zone (the diary's calendar); without it,
today. A create adds an entry and never replaces one: an entry of that instrument on that day
already recorded is a 409 (the diary page corrects it, with the version it showed). The total
score is the server's to compute: a score extension sent along is not read.

Every refusal is a ``FhirError`` (an OperationOutcome) naming the element at fault, as a
FHIRPath expression: 400 for a body that is no QuestionnaireResponse, 415 for another content
type, 422 for answers the diary's rules refuse, 403 and 404 as above.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404

from ketaclinic.accounts.models import Role
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.http import FHIR_JSON, FhirError
from ketaclinic.fhir.oauth import PATIENT_WRITE_SCOPES
from ketaclinic.fhir.resources.questionnaire import ANSWER_SYSTEM, questionnaire_url
from ketaclinic.fhir.resources.questionnaire_response import (
    QUESTIONNAIRE_RESPONSE as QUESTIONNAIRE_RESPONSE_TYPE,
)
from ketaclinic.fhir.resources.questionnaire_response import instrument_of
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.outcomes.api import diary_entry_record, local_date_of, local_today, patient_zone
from ketaclinic.outcomes.models import DiaryEntry, Instrument
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient

QUESTIONNAIRE_RESPONSE = "QuestionnaireResponse"
#: The types this server creates (the CapabilityStatement lists ``create`` for these only).
CREATABLE = frozenset({QUESTIONNAIRE_RESPONSE})
#: The diary's instruments a patient app may record (the PGIC is asked by the clinic).
WRITABLE = (Instrument.NRS.value, Instrument.PEG.value)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _where(key: str) -> str:
    return f"QuestionnaireResponse.item.where(linkId='{key}')"


def require_writer(reader: FhirReader) -> None:
    """A patient: her app with the write scope, or her session; anyone else a 403."""
    user = reader.user
    if user is None or user.role != Role.PATIENT:
        raise FhirError(
            403,
            "Only a patient writes here, in her own pain diary: staff record on the pages, and"
            " a backend system reads.",
            code="forbidden",
        )
    if reader.scopes is not None and not set(PATIENT_WRITE_SCOPES) & reader.scopes:
        raise FhirError(
            403,
            "The access token's scopes do not include patient/QuestionnaireResponse.write.",
            code="forbidden",
        )


def parsed_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The posted resource as JSON, or a 415 / 400."""
    if content_type != FHIR_JSON:
        raise FhirError(
            415,
            f"Send the resource as {FHIR_JSON}.",
            code="not-supported",
            expression="Content-Type",
        )
    try:
        resource = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FhirError(400, "The body is not JSON.", code="structure") from None
    except RecursionError:
        # Nested past the parser's depth: no QuestionnaireResponse is anything like it.
        raise FhirError(400, "The body is nested too deeply.", code="structure") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != QUESTIONNAIRE_RESPONSE:
        raise FhirError(
            400,
            "resourceType: the body must be a QuestionnaireResponse.",
            code="structure",
            expression="QuestionnaireResponse.resourceType",
        )
    return resource


def _instrument(resource: Mapping[str, Any]) -> str:
    named = resource.get("questionnaire")
    if not isinstance(named, str) or not named:
        raise FhirError(
            400,
            "questionnaire: name the diary's questionnaire, "
            f"{questionnaire_url('nrs')} or {questionnaire_url('peg')}.",
            code="required",
            expression="QuestionnaireResponse.questionnaire",
        )
    code = instrument_of(named)
    if code not in WRITABLE:
        raise FhirError(
            422,
            "questionnaire: this server records the pain diary's daily pain score and weekly PEG"
            f" only ({questionnaire_url('nrs')}, {questionnaire_url('peg')}).",
            code="not-supported",
            expression="QuestionnaireResponse.questionnaire",
        )
    return code


def _patient(reader: FhirReader, resource: Mapping[str, Any]) -> Patient:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        raise FhirError(
            400,
            "subject: name the patient the answers are about (Patient/[id]).",
            code="required",
            expression="QuestionnaireResponse.subject",
        )
    assert reader.user is not None  # ``require_writer`` came first
    try:
        # The diary page's own rule: a patient writes her own clinical record, nobody else's.
        return access_patient(
            reader.user,
            uuid.UUID(reference.removeprefix("Patient/")),
            for_write=True,
            clinical=True,
        )
    except (ValueError, Http404):
        raise FhirError(
            404, "subject: no such Patient.", expression="QuestionnaireResponse.subject"
        ) from None


def _day(patient: Patient, resource: Mapping[str, Any]) -> dt.date:
    authored = resource.get("authored")
    zone = patient_zone(patient)
    if authored is None:
        return local_today(zone)
    try:
        if isinstance(authored, str) and _DAY.fullmatch(authored):
            return dt.date.fromisoformat(authored)
        if isinstance(authored, str) and _MOMENT.fullmatch(authored):
            return local_date_of(dt.datetime.fromisoformat(authored.replace("Z", "+00:00")), zone)
    except ValueError:
        pass
    raise FhirError(
        400,
        "authored: the day the answers are for, YYYY-MM-DD, or a moment with its zone"
        " (YYYY-MM-DDThh:mm:ss+zz:zz).",
        expression="QuestionnaireResponse.authored",
    )


def _value(key: str, answer: Any) -> Any:
    """One answer's value, as the diary's form hands the service a number: a ``valueInteger``,
    or a ``valueCoding`` of the Questionnaire's answer options (the number as its code). What
    it is then (in range, a whole number) is the diary's rules' to say."""
    if isinstance(answer, dict) and "valueInteger" in answer:
        return answer["valueInteger"]
    coding = answer.get("valueCoding") if isinstance(answer, dict) else None
    if isinstance(coding, dict) and coding.get("system", ANSWER_SYSTEM) == ANSWER_SYSTEM:
        code = coding.get("code")
        # ASCII digits only: the options' codes are "0" to "10", and ``\d`` (and ``int``) would
        # also take other scripts' digits, such as "٣".
        if isinstance(code, str) and re.fullmatch(r"-?[0-9]{1,6}", code):
            return int(code)
        return code
    raise FhirError(
        400,
        f"item {key}: answer with a valueInteger, or a valueCoding of the questionnaire's"
        f" answer options ({ANSWER_SYSTEM}).",
        code="structure",
        expression=f"{_where(key)}.answer",
    )


def _answers(resource: Mapping[str, Any]) -> dict[str, object]:
    items = resource.get("item", [])
    if not isinstance(items, list):
        raise FhirError(
            400, "item: a list of answered items.", expression="QuestionnaireResponse.item"
        )
    answers: dict[str, object] = {}
    for item in items:
        key = item.get("linkId") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            raise FhirError(
                400, "item: each item needs its linkId.", expression="QuestionnaireResponse.item"
            )
        if key in answers:
            raise FhirError(400, f"item {key}: answered twice.", expression=_where(key))
        given = item.get("answer", [])
        if not isinstance(given, list) or len(given) > 1:
            raise FhirError(400, f"item {key}: one answer.", expression=f"{_where(key)}.answer")
        if given:  # an item without its answer is missing: the diary's rules say so
            answers[key] = _value(key, given[0])
    return answers


# The clinical core's messages end with the value given (", not 'seven'"): cut here, as an
# outcome never repeats what a person typed about a patient (``fhir.http``).
_GIVEN = re.compile(r", not .*\Z", re.DOTALL)


def _refusal(error: ValidationError) -> FhirError:
    """The diary's refusal in FHIR's terms: each field it names as the element at fault."""
    fields = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    where = {
        "entry_date": ("authored", "QuestionnaireResponse.authored"),
        "instrument": ("questionnaire", "QuestionnaireResponse.questionnaire"),
        "note": ("item", "QuestionnaireResponse.item"),
    }
    parts: list[str] = []
    expression = ""
    for field, messages in fields.items():
        name, path = where.get(field, (f"item {field}", _where(field)))
        if not field:
            name, path = "QuestionnaireResponse", ""
        parts.append(f"{name}: {' '.join(_GIVEN.sub('', message) for message in messages)}")
        expression = expression or path
    return FhirError(422, " ".join(parts), code="processing", expression=expression)


def questionnaire_response_create(
    *, reader: FhirReader, body: bytes, content_type: str
) -> dict[str, Any]:
    """A diary entry from a posted QuestionnaireResponse, saved by the diary's service, as the
    QuestionnaireResponse it now is; or a ``FhirError``, and nothing saved. Showing the writer
    what she wrote is no read of another's record: the diary's create event is the one."""
    entry = _record(reader, body, content_type)
    row = QUESTIONNAIRE_RESPONSE_TYPE.rows(reader).get(pk=entry.pk)
    return QUESTIONNAIRE_RESPONSE_TYPE.to_fhir(row)


def _record(reader: FhirReader, body: bytes, content_type: str) -> DiaryEntry:
    require_writer(reader)
    resource = parsed_body(body, content_type)
    code = _instrument(resource)
    status = resource.get("status")
    if status != "completed":
        raise FhirError(
            422,
            "status: only completed answers are recorded (status completed).",
            code="business-rule",
            expression="QuestionnaireResponse.status",
        )
    patient = _patient(reader, resource)
    day = _day(patient, resource)
    answers = _answers(resource)
    try:
        return diary_entry_record(
            actor=reader.actor,
            patient=patient,
            instrument=code,
            entry_date=day,
            answers=answers,
            # A create adds: an entry already recorded that day is not replaced from here.
            expected_version=0,
        )
    except StaleObjectError:
        raise FhirError(
            409,
            f"authored: this day's {code} entry is recorded already; a create does not replace"
            " it (correct it on the diary page).",
            code="duplicate",
            expression="QuestionnaireResponse.authored",
        ) from None
    except ValidationError as error:
        raise _refusal(error) from None
