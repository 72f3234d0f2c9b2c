"""``ketaclinic demo``'s history and today (``devdata.history``, ``devdata.today``): the same
data on every run, two and a half years for about 150 patients, every chart, queue and worklist
with something to show, and a second run that changes nothing.

Loading the history costs seconds: the determinism test loads a smaller one twice (the first
load rolled back), one test checks the full one; the rest of the suite uses the base demo
(``load_demo()``, ``demo --no-history``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.assessments.api import decisions_to_sign
from ketaclinic.clinics.api import proposals_waiting, staff_invitations_open
from ketaclinic.clinics.models import Clinic
from ketaclinic.devdata.demo import DEMO_DOMAIN, PATIENTS, load_demo, load_demo_full
from ketaclinic.devdata.history import HISTORY_PATIENTS, HISTORY_PREFIX
from ketaclinic.devdata.today import load_demo_today
from ketaclinic.infusions.api import deviations_to_review, sessions_to_sign
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion, DiaryEntry
from ketaclinic.patients.models import Patient
from ketaclinic.plans.api import plans_to_sign
from ketaclinic.scheduling.api import (
    appointments_today,
    new_bookings,
    no_shows_to_call,
    waitlist_offers_out,
)
from ketaclinic.scheduling.models import Appointment
from tests.clock import NEW_YORK, afternoon_clock
from tests.factories.sessions import signed_in_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def afternoon() -> Iterator[dt.datetime]:
    yield from afternoon_clock()


def _checksum() -> str:
    """A digest of the history's rows that no database id or creation time enters."""
    rows: list[object] = [
        *Patient.objects.order_by("mrn").values_list(
            "mrn", "given_name", "family_name", "date_of_birth", "sex", "home_location__name"
        ),
        *Appointment.objects.order_by("patient__mrn", "start", "type__name").values_list(
            "patient__mrn", "start", "status", "type__name", "provider__email"
        ),
        *InfusionSession.objects.order_by("patient__mrn", "arrived_at").values_list(
            "patient__mrn", "arrived_at", "plan_total_mg", "signed_at"
        ),
        *DiaryEntry.objects.order_by("patient__mrn", "entry_date").values_list(
            "patient__mrn", "entry_date", "score"
        ),
        *BoosterSuggestion.objects.order_by("patient__mrn", "relapse_date").values_list(
            "patient__mrn", "relapse_date", "status"
        ),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _physician() -> User:
    return User.objects.get(email=f"physician@{DEMO_DOMAIN}")


def test_the_demo_history_is_the_same_on_every_run(
    afternoon: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fewer patients than the demo's 150 (the same code draws them), to keep the suite fast.
    monkeypatch.setattr("ketaclinic.devdata.history.HISTORY_PATIENTS", 30)
    with transaction.atomic():
        load_demo_full(history=True)
        first = _checksum()
        transaction.set_rollback(True)
    assert not Patient.objects.exists()
    load_demo_full(history=True)
    assert _checksum() == first
    assert Patient.objects.filter(mrn__startswith=HISTORY_PREFIX).count() == 30 - 12


def test_the_demo_history_spans_years_and_fills_every_chart_queue_and_worklist(
    afternoon: dt.datetime,
) -> None:
    loaded = load_demo_full(history=True)
    assert loaded.history is not None
    clinic = loaded.clinic

    # About 150 patients, twelve of them the demo's named ones, over two to three years.
    patients = Patient.objects.filter(clinic=clinic)
    seeded = patients.filter(mrn__startswith=HISTORY_PREFIX).count()
    assert loaded.history.summary.patients == HISTORY_PATIENTS == 150
    assert patients.count() == len(PATIENTS) + seeded == len(PATIENTS) + HISTORY_PATIENTS - 12
    today = afternoon.astimezone(NEW_YORK).date()
    diary = DiaryEntry.objects.filter(clinic=clinic)
    first_day = diary.order_by("entry_date").values_list("entry_date", flat=True)[0]
    last_day = diary.order_by("-entry_date").values_list("entry_date", flat=True)[0]
    assert 2 * 365 <= (today - first_day).days <= 3 * 365
    assert last_day == today - dt.timedelta(days=1)
    alice = patients.get(given_name="Alice", mrn__startswith="D")
    assert diary.filter(patient=alice, entry_date__gte=today - dt.timedelta(days=30)).count() > 10
    assert not diary.filter(patient=alice, entry_date=today).exists()  # her diary is due

    # Every role's worklist has something today.
    physician = _physician()
    front_desk = User.objects.get(email=f"frontdesk@{DEMO_DOMAIN}")
    assert plans_to_sign(clinic_id=clinic.pk).exists()
    assert decisions_to_sign(clinic_id=clinic.pk).exists()
    assert sessions_to_sign(clinic_id=clinic.pk).exists()
    assert deviations_to_review(clinic_id=clinic.pk).exists()
    open_boosters = BoosterSuggestion.objects.filter(clinic=clinic, status=BoosterStatus.OPEN)
    assert 3 <= open_boosters.count() <= 30
    consultations = appointments_today(user=physician, now=afternoon).filter(provider=physician)
    assert consultations.count() == 2
    assert appointments_today(user=front_desk, now=afternoon).count() >= 4  # and two infusions
    assert new_bookings(user=front_desk, since=afternoon - dt.timedelta(days=1)).exists()
    assert no_shows_to_call(user=front_desk, now=afternoon).exists()
    assert waitlist_offers_out(user=front_desk, now=afternoon).exists()
    assert list(proposals_waiting(clinic_id=clinic.pk))
    assert list(staff_invitations_open(clinic_id=clinic.pk))

    # A second run adds nothing.
    checksum, events = _checksum(), _event_count()
    out = StringIO()
    call_command("demo", stdout=out)
    assert "history:" not in out.getvalue()
    assert _checksum() == checksum
    assert _event_count() == events

    _the_pages_show_it(clinic, alice)


def _event_count() -> int:
    from ketaclinic.audit.models import AuditEvent

    return AuditEvent.objects.count()


def _the_pages_show_it(clinic: Clinic, alice: Patient) -> None:
    physician = signed_in_client(_physician())
    boosters = physician.get(reverse("outcomes:staff_boosters")).content.decode()
    assert boosters.count('data-testid="booster-row"') >= 3
    analytics = physician.get(reverse("analytics:clinic")).content.decode()
    assert "No series in this range." not in analytics
    assert 'data-testid="km-summary"' in analytics
    chart = physician.get(
        reverse("outcomes:staff_patient_diary", args=[alice.public_id])
    ).content.decode()
    assert 'data-testid="series-1"' in chart
    assert "<svg" in chart
    assert alice.user is not None
    own = signed_in_client(alice.user).get(reverse("outcomes:my_diary")).content.decode()
    assert 'data-testid="response-summary"' in own
    assert "<svg" in own


def test_the_base_demo_has_no_history_and_the_flag_keeps_it_so() -> None:
    call_command("demo", "--no-history", stdout=StringIO())
    assert Patient.objects.count() == len(PATIENTS)
    assert not BoosterSuggestion.objects.exists()
    assert not DiaryEntry.objects.exists()
    assert not Appointment.objects.filter(status="no_show").exists()


def test_todays_worklists_load_on_the_base_demo_once(afternoon: dt.datetime) -> None:
    # What the role homes' tests can use without paying for the history.
    clinic = load_demo()
    load_demo_today(clinic=clinic)
    front_desk = User.objects.get(email=f"frontdesk@{DEMO_DOMAIN}")
    assert no_shows_to_call(user=front_desk, now=afternoon).count() == 1
    assert waitlist_offers_out(user=front_desk, now=afternoon).count() == 1
    assert plans_to_sign(clinic_id=clinic.pk).count() == 1
    assert proposals_waiting(clinic_id=clinic.pk).count() == 1
    assert staff_invitations_open(clinic_id=clinic.pk).count() == 1
    # The items that need a treated patient's past wait for the history.
    assert not decisions_to_sign(clinic_id=clinic.pk).exists()
    assert not deviations_to_review(clinic_id=clinic.pk).exists()
    appointments, events = Appointment.objects.count(), _event_count()
    load_demo_today(clinic=clinic)
    assert (Appointment.objects.count(), _event_count()) == (appointments, events)
