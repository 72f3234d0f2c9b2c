"""The scheduling app's public face: the writes other apps make to appointments (always through
here, so transitions, versions and audit stay the scheduling app's), the free slots and series
days, the signal that appointments changed, and the slot-picking helpers other apps' booking
pages share.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.scheduling.access import SCHEDULERS
from ketaclinic.scheduling.selectors import (
    appointments_today,
    consultation_type,
    desk_bookable_types,
    new_bookings,
    next_visit,
    no_shows_to_call,
    visits_split,
    waitlist_offers_out,
)
from ketaclinic.scheduling.services import (
    appointment_book,
    appointment_infusion_step,
    booking_signup_hold,
    infusion_type_variant,
)
from ketaclinic.scheduling.signals import (
    announce_appointments_changed,
    appointments_changed,
    completion_held,
)
from ketaclinic.scheduling.slots import PATTERN_WEEKDAYS, free_slots, policy_for, series_dates
from ketaclinic.scheduling.views.common import posted_slot, slot_page_context

__all__ = [
    "PATTERN_WEEKDAYS",
    "SCHEDULERS",
    "announce_appointments_changed",
    "appointment_book",
    "appointment_infusion_step",
    "appointments_changed",
    "appointments_today",
    "booking_signup_hold",
    "completion_held",
    "consultation_type",
    "desk_bookable_types",
    "free_slots",
    "infusion_type_variant",
    "new_bookings",
    "next_visit",
    "no_shows_to_call",
    "policy_for",
    "posted_slot",
    "series_dates",
    "slot_page_context",
    "visits_split",
    "waitlist_offers_out",
]
