"""The screening app's public face: attaching a visitor's self-check to the patient it became,
its answers for the consultation's history to start from, and each instrument's answers within
a self-check (the FHIR API's QuestionnaireResponse).

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.screening.handoff import attach_from_session, attach_kept, keep_for_signup
from ketaclinic.screening.selectors import (
    SelfCheckAnswers,
    selfcheck_answers_for_intake,
    selfcheck_instrument_answers,
)

__all__ = [
    "SelfCheckAnswers",
    "attach_from_session",
    "attach_kept",
    "keep_for_signup",
    "selfcheck_answers_for_intake",
    "selfcheck_instrument_answers",
]
