"""Writes to plans: one transaction each, authorized and audited in the same transaction.

A plan is a draft until a physician signs it; a signed plan is read-only. A change after
signing is a revision: a new draft (number + 1) that copies the components and the protocol and
supersedes the signed plan when it is signed itself. Every write checks the version the form
was loaded with (optimistic locking) under a row lock, so two saves cannot both pass.

One module per part of the plan's life: ``drafts`` (start a plan, edit its goals, review date
and components), ``ketamine`` (the ketamine protocol and the dosing-weight gate) and ``signing``
(sign, supersede, revise); ``_common`` holds the lock order and the refusals they share.
Callers import from here.
"""

from ketaclinic.plans.services._common import PlanLockedError
from ketaclinic.plans.services.drafts import COMPONENT_CODES, plan_create, plan_update
from ketaclinic.plans.services.ketamine import (
    DosingWeightGateError,
    ProtocolChoice,
    protocol_save,
)
from ketaclinic.plans.services.signing import plan_revise, plan_sign

__all__ = [
    "COMPONENT_CODES",
    "DosingWeightGateError",
    "PlanLockedError",
    "ProtocolChoice",
    "plan_create",
    "plan_revise",
    "plan_sign",
    "plan_update",
    "protocol_save",
]
