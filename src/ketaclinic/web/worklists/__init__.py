"""The staff homes as worklists: "what needs me today", one section a kind of work, each line a
link to the page where it is done, and the count the navigation shows beside "Home".

Every section is read through the owning app's public face (a lazy queryset its selectors
build); this module only composes them. A section costs two queries whatever its size (its count
and its first ``LIMIT`` rows; the page says "and N more" with a link to the full list), so a
home's query count does not grow with the clinic's work. ``counts_only`` skips the rows: the
navigation's count is the sum of the actionable sections' totals, one query each.

The rules stay where they live: the nurse's chair states, overdue vitals and open alerts are the
chair board's (``infusions.api.boards_today``, the pure rules of ``clinical.monitoring``), the
patient's diary and PGIC due dates the outcomes app's (``outcomes.api.diary_due``).

Reads are not audited here: the staff home writes one read event for the page
(``worklist_read``); the patient's home writes hers through ``patients.api.patient_detail``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.outcomes.api import DiaryDue, diary_due
from ketaclinic.patients.api import patients_visible_to
from ketaclinic.patients.models import Patient
from ketaclinic.plans.api import signed_plan_of
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.api import next_visit
from ketaclinic.scheduling.models import Appointment
from ketaclinic.web.worklists.admin import admin_sections, job_health
from ketaclinic.web.worklists.common import LIMIT, Line, Section, Worklist
from ketaclinic.web.worklists.desk import front_desk_sections
from ketaclinic.web.worklists.nurse import nurse_sections
from ketaclinic.web.worklists.physician import physician_sections

__all__ = [
    "LIMIT",
    "Line",
    "PatientHome",
    "Section",
    "Worklist",
    "job_health",
    "nav_count",
    "patient_home",
    "worklist_for",
    "worklist_read",
]

# --- the entry points ------------------------------------------------------------------------


def worklist_for(user: User, *, now: dt.datetime, counts_only: bool = False) -> Worklist:
    """The user's worklist (unaudited): the staff home's sections, or none for other roles."""
    worklist = Worklist(role=user.role)
    if user.role == Role.PHYSICIAN:
        worklist.sections = physician_sections(user, now, counts_only)
    elif user.role == Role.NURSE:
        worklist.sections = nurse_sections(user, now)
    elif user.role == Role.FRONT_DESK:
        worklist.sections = front_desk_sections(user, now, counts_only)
    elif user.role == Role.CLINIC_ADMIN:
        worklist.sections = admin_sections(user, now, counts_only)
    return worklist


def worklist_read(*, actor: Actor, now: dt.datetime | None = None) -> Worklist:
    """A staff member's home: their worklist and one read event for the page (it lists
    patients by name, as a list page does)."""
    assert actor.user is not None
    with transaction.atomic():
        worklist = worklist_for(actor.user, now=now or timezone.now())
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="worklist",
            detail={"role": worklist.role, "lines": worklist.shown, "to_do": worklist.count},
        )
    return worklist


@dataclass(frozen=True)
class PatientHome:
    next_visit: Appointment | None
    due: DiaryDue
    plan: Plan | None

    @property
    def count(self) -> int:
        return due_count(self.due)


def due_count(due: DiaryDue) -> int:
    """What the patient's home counts as to do: today's diary entry and a PGIC due."""
    return int(due.nrs_today) + int(due.pgic is not None)


def patient_home(*, patient: Patient, now: dt.datetime | None = None) -> PatientHome:
    """The patient's home beyond her record: the next visit, what her diary asks today and her
    plan in force (unaudited: the page reads her record through ``patient_detail``, which
    writes the page's one read event)."""
    moment = now or timezone.now()
    return PatientHome(
        next_visit=next_visit(patient=patient, now=moment),
        due=diary_due(patient=patient, now=moment),
        plan=signed_plan_of(patient=patient),
    )


def nav_count(user: User, *, now: dt.datetime | None = None) -> int:
    """The number beside "Home" in the navigation: what the user's home lists as to do."""
    moment = now or timezone.now()
    if user.is_patient:
        patient = patients_visible_to(user).first()
        return 0 if patient is None else due_count(diary_due(patient=patient, now=moment))
    if user.is_clinic_staff:
        return worklist_for(user, now=moment, counts_only=True).count
    return 0
