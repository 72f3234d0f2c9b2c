"""The screening app's public face: attaching a visitor's self-check to the patient it became,
and its answers for the consultation's history to start from.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.screening.handoff import attach_from_session, attach_kept, keep_for_signup
from ketaclinic.screening.selectors import SelfCheckAnswers, selfcheck_answers_for_intake

__all__ = [
    "SelfCheckAnswers",
    "attach_from_session",
    "attach_kept",
    "keep_for_signup",
    "selfcheck_answers_for_intake",
]
