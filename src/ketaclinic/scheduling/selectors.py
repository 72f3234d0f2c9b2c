"""Reads of the schedule for pages: bounded queries; reads of patient data are audited."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.paginator import Page
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from ketaclinic.accounts.models import CLINICAL_ROLES, STAFF_ROLES, Role, User
from ketaclinic.assessments.api import eligibility_in_force_for
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.gates import InForce
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.lib.paging import numbered_page
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.scheduling.access import SCHEDULERS, appointments_visible_to, public_id_or_404
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    BookingPolicy,
    InductionSeries,
    OfferStatus,
    SeriesStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from ketaclinic.scheduling.signals import completion_holds
from ketaclinic.scheduling.slots import SeriesProposal, local_day_bounds, policy_for, series_find


def bookable_locations() -> list[Location]:
    """Locations with an online-bookable consultation: what a visitor may pick (one query)."""
    clinic_ids = AppointmentType.objects.filter(
        kind=AppointmentKind.CONSULTATION, bookable_online=True, is_active=True
    ).values("clinic_id")
    return list(Location.objects.filter(clinic_id__in=clinic_ids).select_related("clinic"))


def consultation_type(clinic_id: int, *, online: bool) -> AppointmentType | None:
    qs = AppointmentType.objects.filter(
        clinic_id=clinic_id, kind=AppointmentKind.CONSULTATION, is_active=True
    )
    if online:
        qs = qs.filter(bookable_online=True)
    return qs.order_by("duration_min", "pk").first()


def _with_related(qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return qs.select_related("location__clinic", "type", "provider", "patient")


def appointment_load(appointment_id: int) -> Appointment:
    """One appointment with what its pages and emails show, read again after a write (the write
    is audited; this reload is not)."""
    return _with_related(Appointment.objects.all()).get(pk=appointment_id)


def patient_appointments(*, actor: Actor, patient: Patient) -> list[Appointment]:
    with transaction.atomic():
        rows = list(_with_related(Appointment.objects.filter(patient=patient)).order_by("-start"))
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="appointment_list",
            patient=patient,
            detail={"results": len(rows)},
        )
    return rows


def visits_split(
    appointments: Iterable[Appointment], *, now: dt.datetime
) -> tuple[list[Appointment], list[Appointment]]:
    """Visits still to come (booked, not yet started), soonest first: the next one is the one
    people look for; and the rest, newest first. The portal's and the chart's one order."""
    coming: list[Appointment] = []
    past: list[Appointment] = []
    for a in appointments:
        (coming if a.start >= now and a.status == AppointmentStatus.BOOKED else past).append(a)
    coming.sort(key=lambda a: (a.start, a.pk))
    past.sort(key=lambda a: (a.start, a.pk), reverse=True)
    return coming, past


def patient_waitlist(*, patient: Patient) -> list[WaitlistEntry]:
    return list(
        WaitlistEntry.objects.filter(patient=patient, status=WaitlistStatus.WAITING).select_related(
            "location", "appointment"
        )
    )


def new_bookings(*, user: User, since: dt.datetime) -> QuerySet[Appointment]:
    """Bookings made since ``since`` and still booked, newest first (lazy): the front desk's list
    of new bookings and the worklist's line of them."""
    return (
        _with_related(appointments_visible_to(user))
        .filter(created_at__gte=since, status=AppointmentStatus.BOOKED)
        # The id settles ties, so a page boundary never repeats or skips a booking.
        .order_by("-created_at", "-id")
    )


# The desk's list of the week's new bookings, a page at a time: a chain of fifty sites books
# thousands a week, and the list used to stop at the first hundred without saying so.
BOOKINGS_PAGE_SIZE = 50


def recent_bookings(
    *, actor: Actor, since: dt.datetime, page: str | int | None = 1
) -> Page[Appointment]:
    """One page of the front desk's new bookings (newest first) with how many there are: the
    count, one query for the rows and the audit row. Past the end shows the last page."""
    assert actor.user is not None
    with transaction.atomic():
        found = numbered_page(
            new_bookings(user=actor.user, since=since), page, per_page=BOOKINGS_PAGE_SIZE
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="appointment_list",
            detail={
                "results": found.paginator.count,
                "list": "new_bookings",
                "page": found.number,
            },
        )
    return found


def appointment_read(*, actor: Actor, appointment: Appointment, via: str = "") -> Appointment:
    """One appointment's page: one read event naming the patient (``via`` "link" for a page an
    emailed link opens, often without a log-in)."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="appointment",
            object_id=appointment.public_id,
            patient=appointment.patient,
            detail={"via": via} if via else None,
        )
    return appointment


def waitlist_offer_read(*, actor: Actor, offer: WaitlistOffer) -> WaitlistOffer:
    """The page an emailed waitlist offer opens: one read event naming the patient."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="waitlist_offer",
            object_id=offer.pk,
            patient=offer.entry.patient,
            detail={"via": "link"},
        )
    return offer


def desk_bookable_types(clinic_id: int) -> list[AppointmentType]:
    """What the front desk books on its one-appointment page: every active type of the clinic
    that needs no chair (consultations, follow-ups), first-visit consultations first.

    Chair-held types (ketamine infusions) are not offered there: an infusion needs a signed plan
    and is booked as the plan's induction series (``series.py``) or as a booster a physician
    approved (outcomes), each path asking its own gates."""
    return list(
        AppointmentType.objects.filter(clinic_id=clinic_id, is_active=True, needs_chair=False)
        .exclude(kind=AppointmentKind.INFUSION)
        .order_by("kind", "duration_min", "pk")
    )


def usual_location(patient: Patient, locations: list[Location]) -> Location | None:
    """Where the desk books the patient unless told otherwise: the home location; without one,
    the location of the patient's latest appointment (one query); else the clinic's first."""
    by_id = {location.pk: location for location in locations}
    if patient.home_location_id in by_id:
        return by_id[patient.home_location_id]
    latest = (
        Appointment.objects.filter(patient=patient, location_id__in=list(by_id))
        .order_by("-start", "-pk")
        .values_list("location_id", flat=True)
        .first()
    )
    if latest is not None:
        return by_id[latest]
    return locations[0] if locations else None


def desk_book_read(*, actor: Actor, patient: Patient) -> Patient:
    """The front desk's booking page for one patient (name, home location, free times): one read
    event naming the patient. The caller has authorized ``actor`` (``access_patient``)."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="patient",
            object_id=patient.public_id,
            patient=patient,
            detail={"page": "desk_book"},
        )
    return patient


# --- the schedule ------------------------------------------------------------------------------

# Who appears as a column: the people appointments are booked with.
PROVIDER_ROLES = (Role.PHYSICIAN, Role.NURSE)


@dataclass(frozen=True)
class ScheduleColumn:
    key: str
    label: str
    kind: str  # "provider" or "chair"
    detail: str


@dataclass(frozen=True)
class Schedule:
    location: Location
    day_from: dt.date
    days: int
    columns: list[ScheduleColumn]
    # Every appointment touching the days, cancelled ones included, in start order.
    appointments: list[Appointment]
    # Why the desk may not mark some of them completed (a chair session still open), by pk.
    completion_held: dict[int, str] = field(default_factory=dict)


def schedule_locations(*, user: User) -> list[Location]:
    """The clinic's locations, those the user works at first (one query)."""
    if user.clinic_id is None:
        return []
    works_here = User.locations.through.objects.filter(location_id=OuterRef("pk"), user_id=user.pk)
    locations = list(
        Location.objects.filter(clinic_id=user.clinic_id).annotate(mine=Exists(works_here))
    )
    return sorted(locations, key=lambda loc: not getattr(loc, "mine", False))


def schedule_read(*, actor: Actor, location: Location, day_from: dt.date, days: int) -> Schedule:
    """One location's providers and chairs as columns with their appointments over ``days``
    local days: three queries and one audit row, whatever the number of appointments,
    providers or chairs (a fourth when someone has arrived: which of them are in a chair)."""
    assert actor.user is not None
    if actor.user.clinic_id != location.clinic_id or actor.user.role not in STAFF_ROLES:
        raise Http404("No such schedule")
    range_start = local_day_bounds(location, day_from)[0]
    range_end = local_day_bounds(location, day_from + dt.timedelta(days=days - 1))[1]
    staff = sorted(
        User.objects.filter(
            clinic_id=location.clinic_id,
            is_active=True,
            role__in=PROVIDER_ROLES,
            locations=location,
        ),
        key=lambda u: (PROVIDER_ROLES.index(Role(u.role)), u.display_name, u.pk),
    )
    chairs = list(Chair.objects.filter(location=location, is_active=True))
    rows = list(
        Appointment.objects.filter(
            location=location, start__lt=range_end, block_end__gt=range_start
        )
        .select_related("patient", "type", "provider", "chair", "series")
        .order_by("start", "pk")
    )
    # Someone booked here without being listed at the location (or a chair since retired) still
    # gets a column, from the rows already loaded.
    people = {u.pk: u for u in staff}
    for row in rows:
        people.setdefault(row.provider_id, row.provider)
    seats = {c.pk: c for c in chairs}
    for row in rows:
        if row.chair is not None:
            seats.setdefault(row.chair.pk, row.chair)
    columns = [
        ScheduleColumn(
            key=f"p{u.pk}",
            label=u.display_name,
            kind="provider",
            detail=Role(u.role).label if u.role in Role.values else "",
        )
        for u in people.values()
    ] + [
        ScheduleColumn(key=f"c{c.pk}", label=c.name, kind="chair", detail="Infusion chair")
        for c in seats.values()
    ]
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="schedule",
            object_id=location.pk,
            detail={"from": day_from.isoformat(), "days": days, "results": len(rows)},
        )
    # Only an arrival can be completed; one more query when someone has arrived.
    held = completion_holds(a.pk for a in rows if a.status == AppointmentStatus.ARRIVED)
    return Schedule(
        location=location,
        day_from=day_from,
        days=days,
        columns=columns,
        appointments=rows,
        completion_held=held,
    )


# --- induction series ----------------------------------------------------------------------------


def plan_for_series(user: User, public_id: uuid.UUID | str) -> Plan:
    """The plan behind a series page, for those who book series (404 outside scope)."""
    key = public_id_or_404(public_id, "plan")
    if user.role not in SCHEDULERS or user.clinic_id is None:
        raise Http404("No such plan")
    plan = (
        Plan.objects.filter(clinic_id=user.clinic_id, public_id=key)
        .select_related("patient__home_location")
        .first()
    )
    if plan is None or plan.patient.clinic_id != user.clinic_id:
        raise Http404("No such plan")
    return plan


def series_refusal(
    *, plan: Plan, protocol: KetamineProtocol | None, booked_already: bool
) -> str | None:
    """Why this plan cannot be booked as a series now (None if it can)."""
    if plan.status != PlanStatus.SIGNED:
        return (
            f"Only a signed plan can be booked as a series; this plan is "
            f"{plan.get_status_display().lower()}. Nothing was booked."
        )
    if protocol is None:
        return "This plan has no ketamine protocol, so there is no series to book."
    if booked_already:
        return "This plan already has a booked series. Cancel it first to book another."
    return None


@dataclass(frozen=True)
class SeriesPlanPage:
    plan: Plan
    protocol: KetamineProtocol | None
    recovery_min: int
    booked: InductionSeries | None
    refusal: str | None
    # The eligibility decision in force (gate 1), and whether this reader may see its reasons.
    in_force: InForce | None = None
    show_reasons: bool = False


def series_plan_read(*, actor: Actor, plan: Plan) -> SeriesPlanPage:
    """What the series page shows of a plan (the schedule-relevant parts only), audited.

    A patient without an eligibility decision in force is not offered a series to book: the
    page says why (the desk sees the verdict, clinicians its reasons too).
    """
    protocol = KetamineProtocol.objects.filter(plan=plan).first()
    booked = InductionSeries.objects.filter(plan=plan, status=SeriesStatus.BOOKED).first()
    clinician = actor.user is not None and actor.user.role in CLINICAL_ROLES
    in_force = eligibility_in_force_for(patient=plan.patient, today=timezone.localdate())
    refusal = series_refusal(plan=plan, protocol=protocol, booked_already=booked is not None)
    if refusal is None and not in_force.allowed:
        why = in_force.message if clinician else in_force.verdict
        refusal = f"Eligibility gate: cannot book an infusion series. {why}"
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="plan",
            object_id=plan.public_id,
            patient=plan.patient,
            detail={"page": "induction_series"},
        )
    return SeriesPlanPage(
        plan=plan,
        protocol=protocol,
        recovery_min=clinic_policy_current(clinic_id=plan.clinic_id).recovery_min,
        booked=booked,
        refusal=refusal,
        in_force=in_force,
        show_reasons=clinician,
    )


def series_propose(
    *,
    plan: Plan,
    location: Location,
    day_from: dt.date,
    time_from: dt.time | None = None,
    now: dt.datetime | None = None,
) -> SeriesProposal | None:
    """The first feasible series for the plan's protocol at ``location`` from ``day_from``."""
    protocol = KetamineProtocol.objects.filter(plan=plan).first()
    if protocol is None:
        return None
    return series_find(
        patient_id=plan.patient_id,
        location=location,
        duration_min=protocol.duration_min,
        recovery_min=clinic_policy_current(clinic_id=plan.clinic_id).recovery_min,
        sessions_count=protocol.sessions_count,
        pattern=protocol.pattern,
        day_from=day_from,
        time_from=time_from,
        now=now,
    )


def access_series(user: User, public_id: uuid.UUID | str) -> InductionSeries:
    """A series of the user's clinic, for staff (404 outside scope)."""
    key = public_id_or_404(public_id, "series")
    if user.role not in STAFF_ROLES or user.clinic_id is None:
        raise Http404("No such series")
    series = (
        InductionSeries.objects.filter(clinic_id=user.clinic_id, public_id=key)
        .select_related("patient", "location", "plan")
        .first()
    )
    if series is None:
        raise Http404("No such series")
    return series


def series_read(*, actor: Actor, series: InductionSeries) -> list[Appointment]:
    """The series' sessions in order (one query), audited."""
    with transaction.atomic():
        sessions = list(
            series.sessions.select_related("chair", "provider", "type").order_by("start", "pk")
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="induction_series",
            object_id=series.public_id,
            patient=series.patient,
        )
    return sessions


def infusion_type(clinic_id: int) -> AppointmentType | None:
    """The appointment type series sessions are booked as (the clinic's infusion type)."""
    return (
        AppointmentType.objects.filter(
            clinic_id=clinic_id, kind=AppointmentKind.INFUSION, is_active=True
        )
        .order_by("-needs_chair", "pk")
        .first()
    )


# --- what the staff homes' worklists read (web/worklists.py); lazy querysets, unaudited: the
# page that shows them writes its own read event ---


def appointments_today(*, user: User, now: dt.datetime) -> QuerySet[Appointment]:
    """The clinic's appointments still booked or arrived today, each location's "today" in its
    own zone, soonest first: one query for the locations; the queryset itself is lazy."""
    if user.clinic_id is None:
        return Appointment.objects.none()
    locations = list(Location.objects.filter(clinic_id=user.clinic_id))
    if not locations:
        return Appointment.objects.none()
    today = Q()
    for location in locations:
        local = now.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
        start, end = local_day_bounds(location, local)
        today |= Q(location=location, start__gte=start, start__lt=end)
    return (
        _with_related(appointments_visible_to(user))
        .filter(today, status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED))
        .order_by("start", "id")
    )


#: How far back the front desk calls no-shows back.
NO_SHOW_CALLBACK_DAYS = 7


def no_shows_to_call(*, user: User, now: dt.datetime) -> QuerySet[Appointment]:
    """No-shows of the last week whose patient has booked nothing since: the front desk calls
    them back. Newest first, lazy."""
    rebooked = Appointment.objects.filter(
        patient=OuterRef("patient"), start__gt=now, status=AppointmentStatus.BOOKED
    )
    return (
        _with_related(appointments_visible_to(user))
        .filter(
            status=AppointmentStatus.NO_SHOW,
            start__gte=now - dt.timedelta(days=NO_SHOW_CALLBACK_DAYS),
            start__lt=now,
        )
        .exclude(Exists(rebooked))
        .order_by("-start", "-id")
    )


def waitlist_offers_out(*, user: User, now: dt.datetime) -> QuerySet[WaitlistOffer]:
    """Open waitlist offers of the clinic not yet expired, the one expiring first first."""
    if user.clinic_id is None:
        return WaitlistOffer.objects.none()
    return (
        WaitlistOffer.objects.filter(
            entry__clinic_id=user.clinic_id, status=OfferStatus.OPEN, expires_at__gt=now
        )
        .select_related("entry__patient", "location")
        .order_by("expires_at", "id")
    )


def next_visit(*, patient: Patient, now: dt.datetime) -> Appointment | None:
    """The patient's soonest booked appointment not over yet (one query), for her home page: a
    visit that began a few minutes ago and she has not checked in for is still her next one."""
    return (
        Appointment.objects.filter(patient=patient, status=AppointmentStatus.BOOKED, end__gt=now)
        .select_related("location", "type", "provider")
        .order_by("start", "id")
        .first()
    )


@dataclass(frozen=True)
class ChangeWindow:
    """Until when the patient may change an appointment herself (BookingPolicy's cut-off), and
    what she may still do: a series session may be cancelled but never moved alone. The same
    rules the services check (``services/appointments.py``), said ahead so a page offers only
    what will work."""

    deadline: dt.datetime
    can_cancel: bool
    can_move: bool


def change_window(
    appointment: Appointment, *, now: dt.datetime | None = None, policy: BookingPolicy | None = None
) -> ChangeWindow:
    now = now or timezone.now()
    policy = policy or policy_for(appointment.clinic_id)
    deadline = appointment.start - dt.timedelta(hours=policy.cancel_cutoff_hours)
    open_ = appointment.status == AppointmentStatus.BOOKED and now <= deadline
    return ChangeWindow(
        deadline=deadline, can_cancel=open_, can_move=open_ and appointment.series_id is None
    )
