"""Writes to a clinic's set-up: locations, chairs, protocol templates and safety-policy versions.

Each write is one transaction with its audit event. Set-up holds no patient data, so the audit
detail records the old and new values themselves (who changed the dose limit from what to what
is the point of the trail). Bad input raises ``ValidationError`` keyed by the field, before
anything is written.

One module per aggregate; callers import from here (``services.location_create``):

- ``brand``: the clinic's name, logo, colour, address and email sender;
- ``defaults``: what a new clinic starts with;
- ``locations``: locations and their chairs;
- ``protocols``: protocol templates (versioned, checked against the dose limits);
- ``policy``: the safety settings' checks and the next version;
- ``proposals``: the changes that wait for a second physician's approval (gate 9).

``_common`` holds what they all do to a form's values.
"""

from ketaclinic.clinics.services.brand import BRAND_FIELDS, clinic_brand_update
from ketaclinic.clinics.services.defaults import clinic_defaults_install
from ketaclinic.clinics.services.locations import (
    LOCATION_FIELDS,
    chair_create,
    chair_rename,
    chair_set_active,
    location_create,
    location_update,
)
from ketaclinic.clinics.services.policy import (
    _clinical_check,
    clinic_policy_update,
    clinic_policy_values_check,
)
from ketaclinic.clinics.services.proposals import (
    clinic_policy_change,
    policy_proposal_approve,
    policy_proposal_create,
    policy_proposal_decline,
)
from ketaclinic.clinics.services.protocols import (
    TEMPLATE_FIELDS,
    protocol_template_create,
    protocol_template_set_active,
    protocol_template_update,
)

__all__ = [
    "BRAND_FIELDS",
    "LOCATION_FIELDS",
    "TEMPLATE_FIELDS",
    "_clinical_check",
    "chair_create",
    "chair_rename",
    "chair_set_active",
    "clinic_brand_update",
    "clinic_defaults_install",
    "clinic_policy_change",
    "clinic_policy_update",
    "clinic_policy_values_check",
    "location_create",
    "location_update",
    "policy_proposal_approve",
    "policy_proposal_create",
    "policy_proposal_decline",
    "protocol_template_create",
    "protocol_template_set_active",
    "protocol_template_update",
]
