"""Writes to a clinic's places: its locations and the infusion chairs in each.

Separate from the clinical set-up (templates, safety settings) because nothing here carries a
version or a dose: a location or chair is checked for a free name and valid fields, saved, and
audited with its old and new values. Chairs are deactivated, never deleted, since sessions refer
to them.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.access import access_chair, access_location, admin_clinic
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.clinics.services._common import (
    apply_changes,
    refuse_taken_name,
    refuse_unknown,
    strip,
)

LOCATION_FIELDS = ("name", "address", "city", "region", "time_zone", "phone", "email")


def _save_checked(record: Location | Chair) -> None:
    """Save a location or chair once its name is free in its scope and its fields are valid."""
    if isinstance(record, Location):
        refuse_taken_name(
            Location.objects.filter(clinic_id=record.clinic_id),
            record,
            "This clinic already has a location with this name.",
        )
    else:
        refuse_taken_name(
            Chair.objects.filter(location_id=record.location_id),
            record,
            "This location already has a chair with this name.",
        )
    record.full_clean()
    record.save()


@transaction.atomic
def location_create(*, actor: Actor, values: Mapping[str, object]) -> Location:
    refuse_unknown(values, LOCATION_FIELDS)
    location = Location(clinic_id=admin_clinic(actor), **strip(values))
    location.email = location.email.lower()
    _save_checked(location)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="location",
        object_id=location.pk,
        detail={"new": {name: getattr(location, name) for name in LOCATION_FIELDS}},
    )
    return location


@transaction.atomic
def location_update(*, actor: Actor, location_id: int, values: Mapping[str, object]) -> Location:
    refuse_unknown(values, LOCATION_FIELDS)
    location = access_location(actor, location_id, for_update=True)
    cleaned = strip(values)
    if isinstance(cleaned.get("email"), str):
        cleaned["email"] = str(cleaned["email"]).lower()
    changes = apply_changes(location, cleaned)
    if not changes:
        return location
    _save_checked(location)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="location",
        object_id=location.pk,
        detail={"changes": changes},
    )
    return location


def _chair_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the chair a name, e.g. Chair 3."})
    return name


def _chair_changed(actor: Actor, chair: Chair, changes: dict[str, dict[str, object]]) -> None:
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="chair",
        object_id=chair.pk,
        detail={"location": chair.location_id, "changes": changes},
    )


@transaction.atomic
def chair_create(*, actor: Actor, location_id: int, name: str) -> Chair:
    location = access_location(actor, location_id)
    chair = Chair(location=location, name=_chair_name(name))
    _save_checked(chair)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="chair",
        object_id=chair.pk,
        detail={"location": location.pk, "new": {"name": chair.name, "is_active": True}},
    )
    return chair


@transaction.atomic
def chair_rename(*, actor: Actor, chair_id: int, name: str) -> Chair:
    chair = access_chair(actor, chair_id, for_update=True)
    changes = apply_changes(chair, {"name": _chair_name(name)})
    if changes:
        _save_checked(chair)
        _chair_changed(actor, chair, changes)
    return chair


@transaction.atomic
def chair_set_active(*, actor: Actor, chair_id: int, is_active: bool) -> Chair:
    """Deactivate or reactivate a chair. Chairs are never deleted: sessions refer to them, and
    deactivating is the step an admin can undo."""
    chair = access_chair(actor, chair_id, for_update=True)
    changes = apply_changes(chair, {"is_active": is_active})
    if changes:
        chair.save(update_fields=["is_active"])
        _chair_changed(actor, chair, changes)
    return chair
