"""The physician's day: consultations, and what waits for a signature or a review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.assessments.api import decisions_to_sign
from ketaclinic.clinics.api import proposals_waiting
from ketaclinic.infusions.api import (
    deviations_to_review,
    sessions_to_sign,
)
from ketaclinic.outcomes.api import boosters_to_review
from ketaclinic.plans.api import plans_to_sign
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.api import (
    appointments_today,
)
from ketaclinic.scheduling.models import Appointment, AppointmentKind
from ketaclinic.web.worklists.common import (
    Line,
    Section,
    day_at,
    read_section,
    time_at,
)

# --- physician -------------------------------------------------------------------------------


def physician_sections(user: User, now: dt.datetime, counts_only: bool) -> list[Section]:
    clinic_id = user.clinic_id
    assert clinic_id is not None
    consultations = appointments_today(user=user, now=now).filter(
        provider=user, type__kind__in=(AppointmentKind.CONSULTATION, AppointmentKind.FOLLOW_UP)
    )

    def consultation(a: Appointment) -> Line:
        url = reverse("assessments:consultation_list", kwargs={"public_id": a.patient.public_id})
        return Line(a.patient.full_name, url, f"{time_at(a)} · {a.type.name} · {a.location.name}")

    def decision(c: Any) -> Line:
        url = reverse("assessments:consultation_detail", kwargs={"public_id": c.public_id})
        return Line(
            c.patient.full_name, url, f"{c.decision.get_outcome_display()} · {c.exam_date:%-d %b}"
        )

    def plan(p: Plan) -> Line:
        url = reverse("plans:plan_detail", kwargs={"plan_id": p.public_id})
        return Line(p.patient.full_name, url, f"Plan {p.number} (draft)")

    def session(s: Any) -> Line:
        url = reverse("infusions:session", kwargs={"public_id": s.public_id})
        return Line(
            s.patient.full_name,
            url,
            f"{s.get_status_display()} · {day_at(s.arrived_at, s.location)}",
        )

    def deviation(d: Any) -> Line:
        url = reverse("infusions:session", kwargs={"public_id": d.session.public_id})
        return Line(
            d.session.patient.full_name,
            url,
            f"{d.excess_mg:g} mg over the plan · {day_at(d.opened_at, d.session.location)}",
        )

    def booster(b: Any) -> Line:
        url = reverse("outcomes:staff_booster", kwargs={"public_id": b.public_id})
        return Line(b.patient.full_name, url, f"Pain back up since {b.relapse_date:%-d %b %Y}")

    def proposal(p: Any) -> Line:
        return Line(
            f"Proposed by {p.proposed_by.display_name}",
            reverse("clinics:policy_proposals"),
            f"{p.proposed_at:%-d %b %Y}",
        )

    theirs = proposals_waiting(clinic_id=clinic_id).exclude(proposed_by=user)
    return [
        read_section(
            "consultations",
            "Today's consultations",
            consultations,
            consultation,
            empty="No consultations for you today.",
            more_url=reverse("scheduling:schedule"),
            counts_only=counts_only,
        ),
        read_section(
            "decisions",
            "Eligibility decisions to sign",
            decisions_to_sign(clinic_id=clinic_id),
            decision,
            empty="No decision waits for a signature.",
            counts_only=counts_only,
        ),
        read_section(
            "plans",
            "Plans to sign",
            plans_to_sign(clinic_id=clinic_id),
            plan,
            empty="No draft plan waits for a signature.",
            counts_only=counts_only,
        ),
        read_section(
            "sessions",
            "Infusion sessions to sign",
            sessions_to_sign(clinic_id=clinic_id),
            session,
            empty="Every closed session is signed.",
            counts_only=counts_only,
        ),
        read_section(
            "deviations",
            "Dose deviations to review",
            deviations_to_review(clinic_id=clinic_id),
            deviation,
            empty="No dose deviation waits for review.",
            counts_only=counts_only,
        ),
        read_section(
            "boosters",
            "Booster suggestions to review",
            boosters_to_review(clinic_id=clinic_id),
            booster,
            empty="No booster suggestion is open.",
            more_url=reverse("outcomes:staff_boosters"),
            counts_only=counts_only,
        ),
        read_section(
            "proposals",
            "Setting changes to approve",
            theirs,
            proposal,
            empty="No settings change waits for you.",
            more_url=reverse("clinics:policy_proposals"),
            counts_only=counts_only,
        ),
    ]
