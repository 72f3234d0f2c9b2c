"""The infusion day's tables, one module a part of the record, imported here so Django and every
caller see ``ketaclinic.infusions.models.X`` as before the split:

- ``session``: the session row (status, dose copied from the plan, denormalised board fields,
  the signature) and its addenda;
- ``chart``: the pre-infusion check, chart entries with their coded observations, rate events;
- ``safety``: alerts, adverse events, the controlled-substance record, dose deviations.
"""

from ketaclinic.infusions.models.chart import (
    ChartEntry,
    EntryKind,
    Observation,
    Phase,
    PreInfusionCheck,
    RateEvent,
    RateEventKind,
)
from ketaclinic.infusions.models.safety import (
    AdverseEvent,
    AdverseEventKind,
    Alert,
    AlertAction,
    ControlledSubstanceRecord,
    DeviationTrigger,
    DoseDeviation,
    Intervention,
    Outcome,
    Severity,
)
from ketaclinic.infusions.models.session import (
    ACTIVE_STATUSES,
    CLOSED_STATUSES,
    Addendum,
    InfusionSession,
    SessionStatus,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CLOSED_STATUSES",
    "Addendum",
    "AdverseEvent",
    "AdverseEventKind",
    "Alert",
    "AlertAction",
    "ChartEntry",
    "ControlledSubstanceRecord",
    "DeviationTrigger",
    "DoseDeviation",
    "EntryKind",
    "InfusionSession",
    "Intervention",
    "Observation",
    "Outcome",
    "Phase",
    "PreInfusionCheck",
    "RateEvent",
    "RateEventKind",
    "SessionStatus",
    "Severity",
]
