"""Every write of the infusion day: one transaction each, audited in the same transaction.

Each charting service takes the session's ``public_id`` and the ``expected_version`` the form was
loaded with: it locks the session row, refuses a stale version (``StaleObjectError``: the second
of two nurses saving is told to reload, nothing is lost) and a signed session (read-only;
corrections are addenda), asks the session's state machine (``infusions.states``) whether the
action is allowed now, checks its input, and then writes. Refusals raise ``ValidationError``
naming the field, before anything is written, so a refused request changes nothing.

Clinical rules (limits, alerts, the discharge gate, drawn = given + wasted) come only from
``ketaclinic.clinical``; the thresholds are the clinic's current policy, stored with the result.
Times are kept to the minute, as they are entered (``<input type="datetime-local">``), so an
entry made "now" is never "before" an event recorded a few seconds earlier in the same minute.

One module per phase of the day; callers import from here (``services.session_arrive``):

- ``arrival``: check-in and the chair;
- ``precheck``: the pre-infusion check, its override, the deferral;
- ``controlled_substance``: the ketamine drawn;
- ``pump``: start, rate changes, stop (the rate's checks in ``_rates``);
- ``monitoring``: vitals and alerts, CADSS-6, Aldrete, adverse events;
- ``closing``: reconciliation, discharge, dose-deviation review, signature, addenda.
"""

from ketaclinic.infusions.selectors import current_plan, given_mg_at
from ketaclinic.infusions.services._common import (
    FIELD_LABELS,
    LOINC_OF,
    OBJECT_TYPE,
    SCALE_SYSTEM,
    SCALE_UNIT,
)
from ketaclinic.infusions.services._rates import MAX_RATE_ML_PER_H, RATE_STEP
from ketaclinic.infusions.services.arrival import session_arrive, session_chair_assign
from ketaclinic.infusions.services.closing import (
    addendum_add,
    controlled_reconcile,
    dose_deviation_review,
    session_discharge,
    session_sign,
    vitals_gaps_of,
)
from ketaclinic.infusions.services.controlled_substance import controlled_draw_record
from ketaclinic.infusions.services.monitoring import (
    adverse_event_record,
    alert_acknowledge,
    cadss_record,
    recovery_assess,
    vitals_record,
)
from ketaclinic.infusions.services.precheck import (
    precheck_override,
    precheck_record,
    session_defer,
)
from ketaclinic.infusions.services.pump import (
    infusion_rate_set,
    infusion_start,
    infusion_stop,
)

__all__ = [
    "FIELD_LABELS",
    "LOINC_OF",
    "MAX_RATE_ML_PER_H",
    "OBJECT_TYPE",
    "RATE_STEP",
    "SCALE_SYSTEM",
    "SCALE_UNIT",
    "addendum_add",
    "adverse_event_record",
    "alert_acknowledge",
    "cadss_record",
    "controlled_draw_record",
    "controlled_reconcile",
    "current_plan",
    "dose_deviation_review",
    "given_mg_at",
    "infusion_rate_set",
    "infusion_start",
    "infusion_stop",
    "precheck_override",
    "precheck_record",
    "recovery_assess",
    "session_arrive",
    "session_chair_assign",
    "session_defer",
    "session_discharge",
    "session_sign",
    "vitals_gaps_of",
    "vitals_record",
]
