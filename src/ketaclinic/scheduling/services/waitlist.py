"""The waitlist: join it, offer a freed slot to the first in line with a hold, let an unanswered
hold expire to the next, and book (or move) the appointment when an offer is accepted."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.links import link_consume, link_issue
from ketaclinic.scheduling.models import (
    ACTIVE_STATUSES,
    ActionLink,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    LinkAction,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from ketaclinic.scheduling.services.appointments import appointment_book, appointment_reschedule
from ketaclinic.scheduling.services.errors import SchedulingError, SlotUnavailableError
from ketaclinic.scheduling.services.gates import validated_slot
from ketaclinic.scheduling.services.locks import lock_offer
from ketaclinic.scheduling.services.notifications import after_offer, run_after_commit
from ketaclinic.scheduling.slots import policy_for


def waitlist_join(
    *,
    actor: Actor,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    appointment: Appointment | None = None,
) -> WaitlistEntry:
    if not (patient.clinic_id == location.clinic_id == appointment_type.clinic_id):
        raise SchedulingError("That location or appointment type is not part of this clinic.")
    if appointment is not None and (
        appointment.patient_id != patient.pk or appointment.status != AppointmentStatus.BOOKED
    ):
        raise SchedulingError("Only a booked appointment of yours can be moved earlier.")
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                clinic_id=patient.clinic_id,
                patient=patient,
                location=location,
                type=appointment_type,
                appointment=appointment,
            )
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="waitlist_entry",
                object_id=entry.pk,
                patient=patient,
            )
    except IntegrityError:
        raise SchedulingError("You are already on the waitlist for this location.") from None
    return entry


def waitlist_offer_next(
    *,
    provider_id: int,
    location_id: int,
    type_id: int,
    start: dt.datetime,
    now: dt.datetime | None = None,
) -> WaitlistOffer | None:
    """Offer a freed slot to the first waiting patient not yet offered it, with a hold."""
    now = now or timezone.now()
    location = Location.objects.get(pk=location_id)
    appointment_type = AppointmentType.objects.get(pk=type_id)
    policy = policy_for(location.clinic_id)
    with transaction.atomic():
        try:
            slot = validated_slot(
                location=location,
                appointment_type=appointment_type,
                provider_id=provider_id,
                start=start,
                now=now,
            )
        except SlotUnavailableError:
            return None
        already = WaitlistOffer.objects.filter(provider_id=provider_id, start=start).values(
            "entry_id"
        )
        candidates = (
            WaitlistEntry.objects.filter(
                location=location, type=appointment_type, status=WaitlistStatus.WAITING
            )
            .exclude(pk__in=already)
            .select_related("patient", "appointment")
            .order_by("created_at", "id")
        )
        for entry in candidates:
            # Only earlier than what they have; someone with no appointment takes any slot.
            if entry.appointment is not None and entry.appointment.start <= slot.start:
                continue
            if (
                Appointment.objects.filter(
                    patient=entry.patient,
                    status__in=ACTIVE_STATUSES,
                    start__lt=slot.end,
                    end__gt=slot.start,
                )
                .exclude(pk=entry.appointment_id or 0)
                .exists()
            ):
                continue
            offer = WaitlistOffer.objects.create(
                entry=entry,
                provider_id=provider_id,
                location=location,
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
                expires_at=now + dt.timedelta(minutes=policy.waitlist_hold_minutes),
            )
            token = link_issue(
                action=LinkAction.WAITLIST_ACCEPT, expires_at=offer.expires_at, offer=offer
            )
            audit_record(
                actor=Actor(user=None),
                action=Action.CREATE,
                object_type="waitlist_offer",
                object_id=offer.pk,
                patient=entry.patient,
            )
            run_after_commit(partial(after_offer, offer.pk, token=token, expires=offer.expires_at))
            return offer
    return None


def waitlist_offer_expire(*, offer_id: int, now: dt.datetime | None = None) -> WaitlistOffer | None:
    """Release an unanswered hold and offer the slot to the next in line."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = lock_offer(offer_id)
        if offer is None or offer.status != OfferStatus.OPEN or offer.expires_at > now:
            return None
        offer.status = OfferStatus.EXPIRED
        offer.save(update_fields=["status"])
        entry = offer.entry
    return waitlist_offer_next(
        provider_id=offer.provider_id,
        location_id=offer.location_id,
        type_id=entry.type_id,
        start=offer.start,
        now=now,
    )


def waitlist_offer_accept(
    *, actor: Actor, link: ActionLink, now: dt.datetime | None = None
) -> Appointment:
    now = now or timezone.now()
    assert link.offer is not None
    with transaction.atomic():
        offer = lock_offer(
            link.offer.pk,
            related=("entry__patient", "entry__type", "entry__appointment", "location"),
        )
        assert offer is not None
        if offer.status != OfferStatus.OPEN or offer.expires_at <= now:
            raise SchedulingError("This offer has expired; the time was offered to someone else.")
        entry = offer.entry
        if entry.appointment is not None and entry.appointment.status == AppointmentStatus.BOOKED:
            appointment = appointment_reschedule(
                actor=actor,
                appointment=entry.appointment,
                provider_id=offer.provider_id,
                start=offer.start,
                override_cutoff=False,
                link=link,
                offer=offer,
                now=now,
            )
        else:
            link_consume(link, now=now)
            appointment = appointment_book(
                actor=actor,
                patient=entry.patient,
                location=offer.location,
                appointment_type=entry.type,
                provider_id=offer.provider_id,
                start=offer.start,
                online=True,
                offer=offer,
                now=now,
            )
        offer.status = OfferStatus.ACCEPTED
        offer.save(update_fields=["status"])
        entry.status = WaitlistStatus.BOOKED
        entry.save(update_fields=["status"])
    return appointment
