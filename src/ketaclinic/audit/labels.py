"""Audit events in words: the one mapping from an event's codes to what a clinic admin reads.

The trail stores codes (``Action`` values, ``object_type`` and field names), which stay the
record: exports and the hash chain use them. The audit page shows ``describe(action,
object_type)`` ("Signed the eligibility decision", "Viewed the patient chart") with the codes
beside it. ``tests/audit/test_audit_labels.py`` holds every ``Action`` and every object type the
code writes against these tables, so a new one cannot appear on the page as a bare code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ketaclinic.audit.models import Action

# What the actor did to a record, as the first word of the sentence.
VERBS: Mapping[str, str] = MappingProxyType(
    {
        Action.READ: "Viewed",
        Action.CREATE: "Created",
        Action.UPDATE: "Changed",
        Action.DELETE: "Deleted",
        Action.SIGN: "Signed",
        Action.OVERRIDE: "Overrode and signed",
        Action.EXPORT: "Exported",
    }
)

# Sign-in and account events: the sentence is the whole event (their object is the account).
ACCOUNT_EVENTS: Mapping[str, str] = MappingProxyType(
    {
        Action.LOGIN: "Signed in",
        Action.LOGIN_REFUSED: "Sign-in refused",
        Action.LOGOUT: "Signed out",
        Action.TIMEOUT: "Signed out after inactivity",
        Action.LOCKOUT: "Locked out after failed sign-ins",
        Action.MFA_ENROL: "Added a second factor",
        Action.MFA_REMOVE: "Removed a second factor",
        Action.MFA_RESET: "Reset a second factor (admin)",
        Action.PASSWORD_CHANGE: "Changed the password",
        Action.PASSWORD_RESET: "Reset the password",
        Action.REAUTH: "Confirmed identity before signing",
        Action.REAUTH_REFUSED: "Identity not confirmed before signing",
    }
)

# object_type -> the record, as the rest of the sentence.
OBJECTS: Mapping[str, str] = MappingProxyType(
    {
        "action_link_purge": "expired appointment links (clean-up)",
        "appointment": "an appointment",
        "appointment_list": "the appointment list",
        "appointment_reminder": "an appointment reminder",
        "appointment_type": "an appointment type",
        "audit_log": "the audit trail",
        "authenticator": "a second factor",
        "booster_queue": "the booster queue",
        "booster_suggestion": "a booster suggestion",
        "chair": "a chair",
        "chair_board": "the chair board",
        "clinic_analytics": "the clinic analytics",
        "clinic_brand": "the clinic's brand",
        "clinic_policy": "the clinic's safety settings",
        "clinic_policy_proposal": "a proposed change to the safety settings",
        "consultation": "the consultation",
        "consultation_addendum": "a consultation addendum",
        "consultation_list": "the consultation list",
        "diary": "the pain diary",
        "diary_entry": "a pain diary entry",
        "diary_link": "a pain diary link",
        "diary_link_purge": "expired diary links (clean-up)",
        "diary_reminder": "a diary reminder",
        "diary_reminder_schedule": "the diary reminder schedule",
        "eligibility_decision": "the eligibility decision",
        "fhir_app_access": "an app's access to a patient's record",
        "fhir_client": "a FHIR API client",
        "fhir_export": "a Bulk Data export of the FHIR API",
        "fhir_export_file": "a file of a Bulk Data export",
        "fhir_read": "a patient's record through the FHIR API",
        "induction_series": "an induction series",
        "infusion_session": "an infusion session",
        "infusion_session_list": "the infusion session list",
        "ketamine_protocol": "a ketamine protocol",
        "location": "a location",
        "patient": "the patient record",
        "patient_chart": "the patient chart",
        "patient_list": "the patient list",
        "pending_signup": "a pending sign-up",
        "pending_signup_purge": "unfinished sign-ups (clean-up)",
        "plan": "the treatment plan",
        "plan_list": "the treatment plan list",
        "plan_summary": "the treatment plan summary",
        "progress_letter": "a progress letter",
        "progress_letters": "the progress letters",
        "protocol_template": "a protocol template",
        "schedule": "the schedule",
        "selfcheck": "a self-check",
        "selfcheck_list": "the patient's self-checks",
        "selfcheck_purge": "unclaimed self-checks (clean-up)",
        "series_results": "the series results",
        "staff_invitation": "a staff invitation",
        "user": "a user account",
        "waitlist_entry": "a waitlist entry",
        "waitlist_offer": "a waitlist offer",
        "worklist": "the worklist",
    }
)

# Field and section codes written in an event's detail, where the code is not already a word.
FIELD_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "mrn": "record number",
        "spo2": "SpO2",
        "systolic_bp": "systolic BP",
        "diastolic_bp": "diastolic BP",
        "pain_nrs": "pain now (0-10)",
        "dn4": "DN4",
        "dn4_answers": "DN4 answers",
        "bmi": "BMI",
        "dob": "date of birth",
        "mfa": "second factor",
    }
)


def _words(code: str) -> str:
    return code.replace("_", " ").strip()


def object_words(object_type: str) -> str:
    """The record an object type names, in words; an unknown code reads as its words."""
    return OBJECTS.get(object_type) or _words(object_type)


def describe(action: str, object_type: str) -> str:
    """The event as a sentence without its actor: "Signed the eligibility decision"."""
    if action in ACCOUNT_EVENTS:
        return ACCOUNT_EVENTS[action]
    verb = VERBS.get(action) or _words(action).capitalize()
    return f"{verb} {object_words(object_type)}"


def field_words(codes: Iterable[object]) -> str:
    """Field (or section) codes of an event's detail in words, comma separated."""
    return ", ".join(
        FIELD_WORDS.get(str(code)) or _words(str(code)) for code in codes if str(code).strip()
    )


def action_choices() -> list[tuple[str, str]]:
    """The audit page's filter of actions, in words."""
    return [(value, VERBS.get(value) or ACCOUNT_EVENTS[value]) for value in Action.values]


def _without_article(words: str) -> str:
    for article in ("the ", "an ", "a "):
        if words.startswith(article):
            return words[len(article) :]
    return words


def object_choices() -> list[tuple[str, str]]:
    """The audit page's filter of records, in words without their article, alphabetical."""
    named = ((code, _without_article(words)) for code, words in OBJECTS.items())
    return sorted(
        ((code, words[0].upper() + words[1:]) for code, words in named), key=lambda c: c[1]
    )
