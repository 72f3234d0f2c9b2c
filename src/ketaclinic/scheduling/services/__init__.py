"""Writes of the schedule: one transaction each, audited in it, emails and tasks on commit.

One module per aggregate: ``appointments`` (single bookings, moves, cancellations), ``status``
(arrival, no-show, completion), ``series`` (induction series as one unit), ``waitlist`` (offers
of freed slots), ``setup`` (the clinic admin's types, availability and booking policy),
``signups`` (a new patient's details, kept until the email is verified). ``locks`` holds the
row-lock order and the version checks, ``notifications`` what is sent on commit, ``gates`` the
checks bookings share, ``errors`` the refusals. Callers import from here.
"""

from ketaclinic.scheduling.selectors import infusion_type
from ketaclinic.scheduling.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    booking_patient_create,
)
from ketaclinic.scheduling.services.errors import (
    SchedulingError,
    SeriesUnavailableError,
    SlotUnavailableError,
)
from ketaclinic.scheduling.services.notifications import REMINDERS
from ketaclinic.scheduling.services.series import (
    series_book,
    series_cancel,
    series_replace_for_revision,
)
from ketaclinic.scheduling.services.setup import (
    appointment_type_save,
    availability_add,
    availability_remove,
    booking_policy_update,
    exception_add,
    exception_remove,
    infusion_type_variant,
)
from ketaclinic.scheduling.services.signups import (
    SIGNUP_RETENTION,
    booking_signup_complete,
    booking_signup_hold,
    booking_signups_purge,
)
from ketaclinic.scheduling.services.status import (
    STATUS_TRANSITIONS,
    appointment_infusion_step,
    appointment_status_change,
)
from ketaclinic.scheduling.services.waitlist import (
    waitlist_join,
    waitlist_offer_accept,
    waitlist_offer_expire,
    waitlist_offer_next,
)

__all__ = [
    "REMINDERS",
    "SIGNUP_RETENTION",
    "STATUS_TRANSITIONS",
    "SchedulingError",
    "SeriesUnavailableError",
    "SlotUnavailableError",
    "appointment_book",
    "appointment_cancel",
    "appointment_infusion_step",
    "appointment_reschedule",
    "appointment_status_change",
    "appointment_type_save",
    "availability_add",
    "availability_remove",
    "booking_patient_create",
    "booking_policy_update",
    "booking_signup_complete",
    "booking_signup_hold",
    "booking_signups_purge",
    "exception_add",
    "exception_remove",
    "infusion_type",
    "infusion_type_variant",
    "series_book",
    "series_cancel",
    "series_replace_for_revision",
    "waitlist_join",
    "waitlist_offer_accept",
    "waitlist_offer_expire",
    "waitlist_offer_next",
]
