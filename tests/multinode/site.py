"""The clinic of the multi-node test, written into its fresh database by a subprocess.

``python -m ketaclinic.manage shell -c "from tests.multinode.site import main; main()"`` with
``DATABASE_URL`` naming the fresh database and ``SECRET_KEY`` the web nodes' key (sessions and
their authentication hashes are signed with it). It prints one JSON line: what the test needs
(the slots offered, the clients and their sessions, the appointments whose reminders are due).

- ``CLIENTS`` patients with accounts at Cleveland. All share one password, hashed the way the
  web nodes check it (PBKDF2, at the nodes' iteration count, computed once). The first
  ``PAGE_SIGN_INS`` sign in through the sign-in page during the test; the others get the session
  a sign-in leaves (``django.contrib.auth.login`` and allauth's records, as
  ``tests/factories/sessions.py`` does): 200 real sign-ins would spend over a minute of CPU
  on PBKDF2 alone.
- The physician's online consultation hours at Cleveland; ``SLOTS`` of the free slots a few
  days ahead are the ones the clients try to book.
- ``REMINDERS`` booked appointments with another physician at Charlotte (after the slots'
  days, one after another), for patients without accounts, whose 48-hour reminders the test
  enqueues.
- Front-desk sessions (the staff registration page is the write load of the kill -9 test).
"""

from __future__ import annotations

import datetime as dt
import json
import os

from django.contrib.auth import login
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentType
from ketaclinic.scheduling.slots import free_slots
from tests.factories.accounts import make_user
from tests.factories.base import PASSWORD
from tests.factories.patients import make_patient
from tests.factories.scheduling import setup_schedule
from tests.factories.sessions import record_sign_in
from tests.factories.world import make_world

CLIENTS = int(os.environ.get("MULTINODE_CLIENTS", "200"))
SLOTS = int(os.environ.get("MULTINODE_SLOTS", "20"))
REMINDERS = int(os.environ.get("MULTINODE_REMINDERS", "500"))
PAGE_SIGN_INS = int(os.environ.get("MULTINODE_PAGE_SIGN_INS", "20"))
DESK_SESSIONS = 4
REMINDER_PATIENTS = 50
# The slots' days start here (clear of the online lead time), the reminders' appointments after.
SLOT_DAYS_AHEAD = 3
REMINDERS_DAYS_AHEAD = 8


def _mint_session(user: User) -> str:
    """The session a sign-in on the site leaves (user, auth hash, time-out stamps, allauth's
    record of the password and, for staff, the second factor), saved; its key."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    request.session = SessionStore()
    request.user = AnonymousUser()
    login(request, user, backend="ketaclinic.accounts.backends.ClinicAuthenticationBackend")
    record_sign_in(request.session, user)
    request.session.save()
    return str(request.session.session_key)


def build() -> dict[str, object]:
    world = make_world()
    sched = setup_schedule(world, hours=(8, 18))
    location = world.cleveland

    clients = [
        make_user(world.clinic, Role.PATIENT, email=f"client{i}@multinode.test", name=f"C {i}")
        for i in range(CLIENTS)
    ]
    for user in clients:
        make_patient(world.clinic, given="Client", family=user.email, user=user, location=location)
    # The nodes' hasher and iteration count, so a real sign-in neither fails nor rehashes.
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, "multinodesalt123")
    User.objects.filter(pk__in=[u.pk for u in clients]).update(password=hashed)

    day = timezone.localdate() + dt.timedelta(days=SLOT_DAYS_AHEAD)
    slots = free_slots(
        location=location,
        appointment_type=sched.consultation,
        day_from=day,
        day_to=day + dt.timedelta(days=3),
    )[:SLOTS]
    assert len(slots) == SLOTS, f"only {len(slots)} free slots"

    sessions: list[str | None] = []
    for i, user in enumerate(User.objects.filter(pk__in=[u.pk for u in clients]).order_by("pk")):
        sessions.append(None if i < PAGE_SIGN_INS else _mint_session(user))
    desk = [_mint_session(world.front_desk) for _ in range(DESK_SESSIONS)]

    # The reminders' appointments: another provider, another site, patients without accounts.
    provider = make_user(
        world.clinic, Role.PHYSICIAN, name="Dr. Remi Nder", locations=(world.charlotte,)
    )
    followup = AppointmentType.objects.create(
        clinic=world.clinic, kind=AppointmentKind.FOLLOW_UP, name="Follow-up", duration_min=30
    )
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=world.clinic,
            mrn=f"R{n:05d}",
            given_name="Remi",
            family_name=f"Patient{n}",
            date_of_birth=dt.date(1970, 1, 1),
            sex="female",
            email=f"remi{n}@multinode.test",
            home_location=world.charlotte,
        )
        for n in range(REMINDER_PATIENTS)
    )
    first = timezone.now().replace(microsecond=0, second=0, minute=0) + dt.timedelta(
        days=REMINDERS_DAYS_AHEAD
    )
    appointments = Appointment.objects.bulk_create(
        Appointment(
            clinic=world.clinic,
            location=world.charlotte,
            provider=provider,
            patient=patients[n % REMINDER_PATIENTS],
            type=followup,
            start=first + dt.timedelta(minutes=45 * n),
            end=first + dt.timedelta(minutes=45 * n + 30),
            block_end=first + dt.timedelta(minutes=45 * n + 30),
        )
        for n in range(REMINDERS)
    )
    return {
        "location": location.pk,
        "slots": [slot.key for slot in slots],
        "slot_day": day.isoformat(),
        "clients": [
            {"email": user.email, "session": session}
            for user, session in zip(
                User.objects.filter(pk__in=[u.pk for u in clients]).order_by("pk"),
                sessions,
                strict=True,
            )
        ],
        "password": PASSWORD,
        "desk_sessions": desk,
        "reminders": [
            [a.pk, "48h", a.start.isoformat(), str(a.public_id)]
            for a in Appointment.objects.filter(provider=provider).order_by("start")
        ],
        "reminder_count": len(appointments),
    }


def main() -> None:
    print("MULTINODE " + json.dumps(build()))
