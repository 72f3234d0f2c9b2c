"""The audit app's public face: the one write every other app records its events with.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written. ``day_bounds`` (a date filter as timestamp
bounds the index answers) serves the analytics filters as it serves the audit page's; ``describe``
and ``object_words`` (an event in words) serve the FHIR API's AuditEvent as they serve the page."""

from __future__ import annotations

from ketaclinic.audit.integrity import EVENT_COLUMNS
from ketaclinic.audit.labels import describe, object_words
from ketaclinic.audit.selectors import day_bounds
from ketaclinic.audit.services import Actor, audit_record, audit_record_many, client_ip

# Plain sorted order, as tests/test_public_faces.py wants of every face (not isort's).
__all__ = [  # noqa: RUF022
    "Actor",
    "EVENT_COLUMNS",
    "audit_record",
    "audit_record_many",
    "client_ip",
    "day_bounds",
    "describe",
    "object_words",
]
