"""The ketamine drawn up for a session: the Schedule III record's lot, expiry and amount, at most
the clinic's multiple of the plan's total (gate 4). It is closed by the reconciliation
(``closing.controlled_reconcile``) once the infusion has ended."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import Action
from ketaclinic.clinical import charting
from ketaclinic.infusions.models import ControlledSubstanceRecord
from ketaclinic.infusions.selectors import current_plan
from ketaclinic.infusions.services._common import (
    _audit,
    _charted,
    _locked,
    _policy,
    _save,
    _tz,
    _user,
)


@transaction.atomic
def controlled_draw_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    lot: str,
    expiry: dt.date,
    drawn_mg: Decimal,
    drawn_at: dt.datetime | None = None,
    time_reason: str = "",
) -> ControlledSubstanceRecord:
    """Ketamine drawn up for this session: lot, expiry and amount (Schedule III record), at most
    the clinic's multiple of the plan's total (gate 4)."""
    session = _locked(actor, session_id, expected_version, "draw")
    tz = _tz(session)
    if hasattr(session, "controlled_substance"):
        raise ValidationError("The ketamine drawn for this session is already recorded.")
    plan = current_plan(session.patient)
    if plan is None:
        raise ValidationError("There is no signed plan with a ketamine dose for this session.")
    policy = _policy(session)
    timed = _charted(
        session,
        drawn_at,
        field="drawn_at",
        policy=policy,
        after=[(session.arrived_at, "the arrival")],
        reason=time_reason,
    )
    at = timed.at
    lot_text = lot.strip()
    if not lot_text:
        raise ValidationError({"lot": "Enter the lot number on the vial."})
    if expiry < at.astimezone(tz).date():
        raise ValidationError({"expiry": f"This lot expired on {expiry:%d %B %Y}: do not use it."})
    if drawn_mg <= 0:
        raise ValidationError({"drawn_mg": "The amount drawn must be more than 0 mg."})
    most = charting.draw_limit_mg(
        plan_total_mg=plan.protocol.total_mg, factor=policy.draw_max_factor
    )
    if drawn_mg > Decimal(repr(most)):
        raise ValidationError(
            {
                "drawn_mg": f"{charting.DOSE_GATE}: {drawn_mg} mg is more than "
                f"{policy.draw_max_factor:g} x the plan's total of {plan.protocol.total_mg:g} mg "
                f"(at most {most:g} mg may be drawn): check the amount."
            }
        )
    record = ControlledSubstanceRecord(
        session=session,
        concentration_mg_per_ml=plan.protocol.concentration_mg_per_ml,
        lot=lot_text,
        expiry=expiry,
        drawn_mg=drawn_mg,
        drawn_at=at,
        time_reason=timed.reason,
        drawn_by=_user(actor),
    )
    record.full_clean(exclude=["session", "drawn_by"])
    record.save()
    _save(session)
    _audit(
        actor,
        session,
        "controlled_draw",
        action=Action.CREATE,
        fields=["lot", "expiry", "drawn_mg"],
        **timed.audit,
    )
    return record
