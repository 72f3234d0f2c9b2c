"""The demo clinic: two locations, chairs, one person per staff role and about 20 patients.

Loaded by ``ketaclinic demo``; idempotent (existing rows are kept, missing ones added). Every demo
account has ``is_demo`` set and logs in only while KETACLINIC_MODE is demo or test.

``load_demo()`` alone is the base clinic the tests use (under a second). The command adds, with
``history=True``, two and a half years of treatment for about 150 patients (``history``) and
something on every role's worklist today (``today``): ``ketaclinic demo --no-history`` skips
both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.api import clinic_defaults_install
from ketaclinic.clinics.models import Chair, Clinic, Location
from ketaclinic.devdata.history import HistoryResult, load_demo_history
from ketaclinic.devdata.infusion_day import seed_infusion_day
from ketaclinic.devdata.today import DEMO_DOMAIN as DEMO_DOMAIN  # the log-ins' domain
from ketaclinic.devdata.today import load_demo_today
from ketaclinic.patients.models import Patient

DEMO_PASSWORD = "ketaclinic-demo"  # noqa: S105  (published on purpose: demo mode only)
CLINIC_SLUG = "lakeshore"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    name: str
    locations: tuple[str, ...]


LOCATIONS = (
    # name, address, city, state, time zone, phone, chairs
    ("Cleveland", "2049 E 9th St", "Cleveland", "OH", "America/New_York", "(216) 555-0142", 6),
    ("Charlotte", "615 S Tryon St", "Charlotte", "NC", "America/New_York", "(704) 555-0187", 4),
)

STAFF = (
    DemoLogin(
        f"frontdesk@{DEMO_DOMAIN}", Role.FRONT_DESK, "Dana Whitfield", ("Cleveland", "Charlotte")
    ),
    DemoLogin(f"nurse@{DEMO_DOMAIN}", Role.NURSE, "Marcus Reyes, RN", ("Cleveland",)),
    DemoLogin(f"nurse.charlotte@{DEMO_DOMAIN}", Role.NURSE, "Priya Natarajan, RN", ("Charlotte",)),
    DemoLogin(
        f"physician@{DEMO_DOMAIN}", Role.PHYSICIAN, "Dr. Helen Okafor", ("Cleveland", "Charlotte")
    ),
    DemoLogin(
        f"admin@{DEMO_DOMAIN}", Role.CLINIC_ADMIN, "Grace Lindqvist", ("Cleveland", "Charlotte")
    ),
)

# Two patients have portal log-ins; the rest were registered by the front desk (phone bookings).
PATIENT_LOGINS = {
    "Alice": f"alice@{DEMO_DOMAIN}",
    "Bob": f"bob@{DEMO_DOMAIN}",
}

# given, family, born, sex, home location, referring physician. Varied ages, sexes and sites;
# the histories (conditions, therapies, infusions, diaries) are added by each feature's seeding.
PATIENTS = (
    ("Alice", "Moreno", dt.date(1971, 3, 14), "female", "Cleveland", "Dr. Samuel Byrne"),
    ("Bob", "Kowalski", dt.date(1958, 11, 2), "male", "Cleveland", "Dr. Ana Ruiz"),
    ("Carmen", "Delgado", dt.date(1966, 6, 21), "female", "Charlotte", "Dr. Ana Ruiz"),
    ("Derek", "Osei", dt.date(1983, 1, 9), "male", "Charlotte", ""),
    ("Eleanor", "Pratt", dt.date(1949, 8, 30), "female", "Cleveland", "Dr. Samuel Byrne"),
    ("Farid", "Haddad", dt.date(1977, 4, 17), "male", "Cleveland", "Dr. Lena Schultz"),
    ("Gwen", "Tanaka", dt.date(1990, 12, 5), "female", "Charlotte", ""),
    ("Hector", "Alvarez", dt.date(1962, 2, 26), "male", "Charlotte", "Dr. Ana Ruiz"),
    ("Ines", "Carvalho", dt.date(1985, 9, 12), "female", "Cleveland", "Dr. Lena Schultz"),
    ("James", "Whitaker", dt.date(1954, 5, 3), "male", "Cleveland", "Dr. Samuel Byrne"),
    ("Keisha", "Brown", dt.date(1979, 7, 28), "female", "Charlotte", ""),
    ("Liam", "O'Connor", dt.date(1995, 3, 1), "male", "Cleveland", "Dr. Lena Schultz"),
    ("Mei", "Chen", dt.date(1968, 10, 19), "female", "Charlotte", "Dr. Ana Ruiz"),
    ("Nikolai", "Petrov", dt.date(1973, 1, 23), "male", "Cleveland", ""),
    ("Olivia", "Grant", dt.date(1988, 4, 8), "female", "Cleveland", "Dr. Samuel Byrne"),
    ("Pedro", "Santos", dt.date(1960, 6, 15), "male", "Charlotte", "Dr. Ana Ruiz"),
    ("Quinn", "Harper", dt.date(2001, 11, 27), "female", "Charlotte", ""),
    ("Rashid", "Khan", dt.date(1951, 8, 4), "male", "Cleveland", "Dr. Lena Schultz"),
    ("Sofia", "Rossi", dt.date(1993, 2, 11), "female", "Cleveland", ""),
    ("Tomas", "Novak", dt.date(1964, 9, 30), "male", "Charlotte", "Dr. Ana Ruiz"),
)


def demo_logins() -> list[tuple[str, str, str]]:
    """(role label, email, password) for the start-up banner and the README."""
    rows = [(s.role.label, s.email, DEMO_PASSWORD) for s in STAFF]
    rows += [(f"Patient ({name})", email, DEMO_PASSWORD) for name, email in PATIENT_LOGINS.items()]
    return rows


def _user(email: str, *, role: Role, name: str, clinic: Clinic) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email, DEMO_PASSWORD, role=role, full_name=name, clinic=clinic, is_demo=True
        )
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@dataclass
class DemoLoad:
    clinic: Clinic
    history: HistoryResult | None = None


def load_demo() -> Clinic:
    """The base demo clinic (staff, patients, schedule, today's infusions)."""
    return load_demo_full(history=False).clinic


@transaction.atomic
def load_demo_full(*, history: bool) -> DemoLoad:
    """The demo clinic; with ``history``, its past and today's worklists as well."""
    clinic, _ = Clinic.objects.get_or_create(
        slug=CLINIC_SLUG, defaults={"name": "Lakeshore Neuropathic Pain Clinic"}
    )
    clinic_defaults_install(clinic=clinic)
    locations: dict[str, Location] = {}
    for name, address, city, region, tz, phone, n_chairs in LOCATIONS:
        location, _ = Location.objects.get_or_create(
            clinic=clinic,
            name=name,
            defaults={
                "address": address,
                "city": city,
                "region": region,
                "time_zone": tz,
                "phone": phone,
            },
        )
        locations[name] = location
        for number in range(1, n_chairs + 1):
            Chair.objects.get_or_create(location=location, name=f"Chair {number}")
    for member in STAFF:
        user = _user(member.email, role=member.role, name=member.name, clinic=clinic)
        user.locations.add(*(locations[n] for n in member.locations))
    for index, (given, family, born, sex, home, referrer) in enumerate(PATIENTS, start=1):
        patient = Patient.objects.filter(clinic=clinic, mrn=f"D{index:06d}").first()
        if patient is None:
            email = PATIENT_LOGINS.get(given, f"{given.lower()}.{family.lower()}@example.com")
            email = email.replace("'", "")
            patient = Patient.objects.create(
                clinic=clinic,
                mrn=f"D{index:06d}",
                given_name=given,
                family_name=family,
                date_of_birth=born,
                sex=sex,
                email=email,
                phone=f"(555) 010-{index:04d}",
                home_location=locations[home],
                referring_physician=referrer,
            )
        if given in PATIENT_LOGINS and patient.user_id is None:
            patient.user = _user(
                PATIENT_LOGINS[given], role=Role.PATIENT, name=f"{given} {family}", clinic=clinic
            )
            patient.save(update_fields=["user"])
    _load_schedule(clinic, locations)
    loaded = DemoLoad(clinic=clinic)
    if history:
        # Before today's infusions, so the chairs go to patients with a signed plan.
        loaded.history = load_demo_history(clinic=clinic)
    # Today's infusions on the chair board, one per location (idempotent for the day).
    seed_infusion_day(clinic=clinic)
    if history:
        load_demo_today(clinic=clinic)
    return loaded


# Appointment types (kind, name, minutes, buffer, role, chair, online) and the physician's
# weekly hours: Cleveland on Monday, Wednesday and Friday, Charlotte on Tuesday and Thursday.
APPOINTMENT_TYPES = (
    ("consultation", "New patient consultation", 45, 15, Role.PHYSICIAN, False, True),
    ("follow_up", "Follow-up visit", 20, 10, Role.PHYSICIAN, False, False),
    ("infusion", "Ketamine infusion", 120, 30, Role.NURSE, True, False),
)
PHYSICIAN_HOURS = {"Cleveland": (0, 2, 4), "Charlotte": (1, 3)}


def _load_schedule(clinic: Clinic, locations: dict[str, Location]) -> None:
    from django.utils import timezone

    from ketaclinic.scheduling.api import free_slots
    from ketaclinic.scheduling.models import (
        Appointment,
        AppointmentType,
        BookingPolicy,
        WeeklyAvailability,
    )

    BookingPolicy.objects.get_or_create(clinic=clinic)
    types = {}
    for kind, name, minutes, buffer, role, chair, online in APPOINTMENT_TYPES:
        types[kind], _ = AppointmentType.objects.get_or_create(
            clinic=clinic,
            name=name,
            defaults={
                "kind": kind,
                "duration_min": minutes,
                "buffer_min": buffer,
                "provider_role": role,
                "needs_chair": chair,
                "bookable_online": online,
            },
        )
    for name, location in locations.items():
        if not location.email:
            location.email = f"{name.lower()}@{DEMO_DOMAIN}"
            location.save(update_fields=["email"])
    physician = User.objects.get(email=f"physician@{DEMO_DOMAIN}")
    for name, weekdays in PHYSICIAN_HOURS.items():
        for weekday in weekdays:
            for start, end in ((dt.time(9), dt.time(12)), (dt.time(13), dt.time(17))):
                WeeklyAvailability.objects.get_or_create(
                    provider=physician,
                    location=locations[name],
                    weekday=weekday,
                    start_time=start,
                    defaults={"end_time": end},
                )
    # Infusion nurses work weekdays 8-17 at their own location: the induction-series finder
    # needs a nurse for every session.
    for nurse in User.objects.filter(clinic=clinic, role=Role.NURSE).prefetch_related("locations"):
        for location in nurse.locations.all():
            for weekday in range(5):
                WeeklyAvailability.objects.get_or_create(
                    provider=nurse,
                    location=location,
                    weekday=weekday,
                    start_time=dt.time(8),
                    defaults={"end_time": dt.time(17)},
                )
    # A few upcoming consultations, once (a demo reloaded later keeps the ones it has).
    if Appointment.objects.filter(clinic=clinic).exists():
        return
    today = timezone.localdate()
    patients = list(Patient.objects.filter(clinic=clinic, mrn__startswith="D").order_by("mrn"))
    for index, patient in enumerate(patients[2:6]):
        location = patient.home_location or locations["Cleveland"]
        slots = free_slots(
            location=location,
            appointment_type=types["consultation"],
            day_from=today + dt.timedelta(days=3 + index),
            day_to=today + dt.timedelta(days=10 + index),
        )
        if slots:
            slot = slots[index % len(slots)]
            Appointment.objects.create(
                clinic=clinic,
                location=location,
                provider_id=slot.provider_id,
                patient=patient,
                type=types["consultation"],
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
                booked_online=False,
            )
