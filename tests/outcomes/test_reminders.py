"""Reminder schedules: local time of day across daylight-saving changes, pausing, and a worker
that sends each day's reminder at most once, even when it runs twice or two workers race."""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import time
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.tasks import ALREADY_RUN
from ketaclinic.outcomes import timing
from ketaclinic.outcomes.diary import reminders, services, tasks
from ketaclinic.outcomes.models import (
    DiaryEntry,
    DiaryLink,
    ReminderSchedule,
    SentDiaryReminder,
)
from ketaclinic.scheduling.models import AppointmentStatus
from tests.clock import NEW_YORK
from tests.conftest import World
from tests.factories.outcomes import infusions
from tests.factories.patients import registered_since
from tests.outcomes.helpers import snapshot

UTC = dt.UTC


def _next(after: dt.datetime, **kw: Any) -> dt.datetime | None:
    values: dict[str, Any] = {
        "enabled": True,
        "time_of_day": dt.time(19, 0),
        "daily_nrs": True,
        "weekly_peg": True,
        "peg_weekday": 6,
        "paused_until": None,
        "zone": NEW_YORK,
        "after": after,
    }
    values.update(kw)
    return timing.next_reminder_at(**values)


def test_the_next_daily_reminder_is_today_or_tomorrow_at_local_time() -> None:
    morning = dt.datetime(2026, 3, 4, 9, 0, tzinfo=NEW_YORK)
    assert _next(morning) == dt.datetime(2026, 3, 4, 19, 0, tzinfo=NEW_YORK)
    evening = dt.datetime(2026, 3, 4, 19, 0, tzinfo=NEW_YORK)
    assert _next(evening) == dt.datetime(2026, 3, 5, 19, 0, tzinfo=NEW_YORK)


def test_the_reminder_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    # US clocks go forward on 8 March 2026 and back on 1 November 2026.
    before = _next(dt.datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK))
    assert before is not None
    assert before.astimezone(UTC) == dt.datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # 19:00 EDT
    after = _next(dt.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK))
    assert after is not None
    assert after.astimezone(UTC) == dt.datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 19:00 EST


def test_a_reminder_at_a_time_that_does_not_exist_is_sent_once_that_day() -> None:
    # 02:30 does not exist on 8 March 2026 in New York: it is read as 03:30 EDT.
    due = _next(dt.datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK), time_of_day=dt.time(2, 30))
    assert due is not None
    assert due.astimezone(NEW_YORK).date() == dt.date(2026, 3, 8)
    assert due.astimezone(UTC) == dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_weekly_only_reminders_fall_on_the_chosen_weekday() -> None:
    wednesday = dt.datetime(2026, 3, 4, 9, 0, tzinfo=NEW_YORK)
    due = _next(wednesday, daily_nrs=False, peg_weekday=0)
    assert due == dt.datetime(2026, 3, 9, 19, 0, tzinfo=NEW_YORK)  # the next Monday


def test_a_paused_schedule_resumes_the_day_after_the_pause() -> None:
    due = _next(dt.datetime(2026, 3, 4, 9, 0, tzinfo=NEW_YORK), paused_until=dt.date(2026, 3, 10))
    assert due == dt.datetime(2026, 3, 11, 19, 0, tzinfo=NEW_YORK)


def test_reminders_that_are_off_or_ask_for_nothing_are_never_due() -> None:
    now = dt.datetime(2026, 3, 4, 9, 0, tzinfo=NEW_YORK)
    assert _next(now, enabled=False) is None
    assert _next(now, daily_nrs=False, weekly_peg=False) is None


def test_the_instruments_due_on_a_day() -> None:
    sunday, monday = dt.date(2026, 3, 8), dt.date(2026, 3, 9)
    both = functools.partial(timing.due_instruments, daily_nrs=True, weekly_peg=True, peg_weekday=6)
    assert both(day=sunday) == ["nrs", "peg"]
    assert both(day=monday) == ["nrs"]


# --- saving a schedule ------------------------------------------------------------------------


def _save(world: World, **kw: Any) -> ReminderSchedule:
    values: dict[str, Any] = {
        "actor": Actor(user=world.alice),
        "patient": world.alice_patient,
        "enabled": True,
        "time_of_day": dt.time(19, 0),
        "daily_nrs": True,
        "weekly_peg": True,
        "peg_weekday": 6,
    }
    values.update(kw)
    return services.reminder_schedule_save(**values)


def test_saving_a_schedule_sets_the_next_reminder(
    diary_world: World, django_capture_on_commit_callbacks: Any
) -> None:
    now = dt.datetime(2026, 3, 4, 14, 0, tzinfo=UTC)  # 09:00 in New York
    with django_capture_on_commit_callbacks(execute=True):
        schedule = _save(diary_world, now=now, expected_version=0)
    assert schedule.next_due_at == dt.datetime(2026, 3, 4, 19, 0, tzinfo=NEW_YORK)
    event = AuditEvent.objects.get(object_type="diary_reminder_schedule")
    assert event.action == "create"
    with django_capture_on_commit_callbacks(execute=True):
        _save(diary_world, now=now, time_of_day=dt.time(8, 0), expected_version=1)
    # The dispatcher is the worker's periodic job (lib.tasks.PERIODIC_JOBS): saving enqueues none.
    assert not DBTaskResult.objects.filter(task_path__endswith="diary_reminders_dispatch").exists()
    assert ReminderSchedule.objects.get().next_due_at == dt.datetime(
        2026, 3, 5, 8, 0, tzinfo=NEW_YORK
    )


def test_reminders_need_an_email_address(diary_world: World) -> None:
    diary_world.alice_patient.email = ""
    diary_world.alice_patient.save()
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _save(diary_world)
    assert list(refused.value.message_dict) == ["enabled"]
    assert snapshot() == before


def test_reminders_must_ask_for_something(diary_world: World) -> None:
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        _save(diary_world, daily_nrs=False, weekly_peg=False)
    assert list(refused.value.message_dict) == ["daily_nrs"]
    assert snapshot() == before


def test_a_stale_schedule_form_is_refused(diary_world: World) -> None:
    _save(diary_world)
    _save(diary_world, time_of_day=dt.time(8, 0), expected_version=1)
    before = snapshot()
    with pytest.raises(StaleObjectError):
        _save(diary_world, time_of_day=dt.time(9, 0), expected_version=1)
    assert snapshot() == before


def test_a_pause_in_the_past_is_refused(diary_world: World) -> None:
    _save(diary_world)
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        services.reminder_schedule_pause(
            actor=Actor(user=diary_world.alice),
            patient=diary_world.alice_patient,
            until=timezone.localdate() - dt.timedelta(days=3),
        )
    assert list(refused.value.message_dict) == ["paused_until"]
    assert snapshot() == before


def test_the_patient_pauses_and_resumes_from_the_reminders_page(
    diary_world: World, client_for: Any
) -> None:
    alice = client_for("alice")
    url = reverse("outcomes:my_diary_reminders")
    response = alice.post(
        url,
        {
            "action": "save",
            "enabled": "on",
            "time_of_day": "20:30",
            "daily_nrs": "on",
            "peg_weekday": "6",
            "version": "0",
        },
    )
    assert response.status_code == 302
    schedule = ReminderSchedule.objects.get()
    assert (schedule.time_of_day, schedule.daily_nrs, schedule.weekly_peg) == (
        dt.time(20, 30),
        True,
        False,
    )
    until = timezone.now().astimezone(NEW_YORK).date() + dt.timedelta(days=10)
    alice.post(url, {"action": "pause", "paused_until": until.isoformat(), "version": "1"})
    schedule.refresh_from_db()
    assert schedule.paused_until == until
    assert schedule.next_due_at is not None
    assert schedule.next_due_at.astimezone(NEW_YORK).date() == until + dt.timedelta(days=1)
    assert f"Paused until {until:%A} {until.day}" in alice.get(url).content.decode()
    alice.post(url, {"action": "resume", "version": "2"})
    schedule.refresh_from_db()
    assert schedule.paused_until is None
    actions = list(
        AuditEvent.objects.filter(object_type="diary_reminder_schedule")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    # Every page load reads the settings (4 requests), and each change is recorded.
    assert [a for a in actions if a != "read"] == ["create", "update", "update"]
    assert actions.count("read") == 4


def test_the_reminders_page_names_the_field_of_a_bad_time(
    diary_world: World, client_for: Any
) -> None:
    before = snapshot()
    response = client_for("alice").post(
        reverse("outcomes:my_diary_reminders"),
        {"action": "save", "enabled": "on", "time_of_day": "25:99", "peg_weekday": "6"},
    )
    assert response.status_code == 422
    assert "At (your local time): Enter a valid time." in response.content.decode()
    # Nothing changed (no write event); the page's read of the settings is the newest event.
    assert snapshot() == before
    assert AuditEvent.objects.values_list("action", flat=True).first() == "read"


# --- the worker -------------------------------------------------------------------------------


def _due_schedule(world: World, *, due: dt.datetime) -> ReminderSchedule:
    schedule = _save(world, now=due - dt.timedelta(hours=1))
    assert schedule.next_due_at == due
    return schedule


def _recent_sunday() -> dt.date:
    """A Sunday two to three weeks ago: in the past (diary days cannot be in the future) and
    after the personas' registration (back-dated 120 days by ``diary_world``)."""
    day = timezone.now().astimezone(NEW_YORK).date() - dt.timedelta(days=14)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


SUNDAY = _recent_sunday()
SUNDAY_7PM = dt.datetime.combine(SUNDAY, dt.time(19, 0), tzinfo=NEW_YORK)


def _at_7pm(days_after_sunday: int) -> dt.datetime:
    return dt.datetime.combine(
        SUNDAY + dt.timedelta(days=days_after_sunday), dt.time(19, 0), tzinfo=NEW_YORK
    )


def test_a_due_reminder_is_emailed_once_with_one_link_per_question(diary_world: World) -> None:
    schedule = _due_schedule(diary_world, due=SUNDAY_7PM)
    mail.outbox.clear()
    now = SUNDAY_7PM + dt.timedelta(minutes=3)
    assert services.diary_reminders_send(now=now) == 1
    assert services.diary_reminders_send(now=now) == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [diary_world.alice_patient.email]
    assert f"Sunday {SUNDAY.day} {SUNDAY:%B %Y}" in message.body
    assert len(re.findall(r"/d/[^/\s]+/", str(message.body))) == 2  # Sunday: NRS and PEG
    assert "works once" in message.body
    assert sorted(SentDiaryReminder.objects.values_list("instrument", flat=True)) == ["nrs", "peg"]
    schedule.refresh_from_db()
    assert schedule.next_due_at == _at_7pm(1)
    event = AuditEvent.objects.get(object_type="diary_reminder")
    assert event.detail == {"instruments": ["nrs", "peg"], "date": SUNDAY.isoformat()}


def test_two_workers_with_the_same_due_schedule_send_one_email(diary_world: World) -> None:
    _due_schedule(diary_world, due=SUNDAY_7PM)
    # Both workers read the schedule before either claimed it.
    seen_by_first = ReminderSchedule.objects.select_related("patient__home_location").get()
    seen_by_second = ReminderSchedule.objects.select_related("patient__home_location").get()
    now = SUNDAY_7PM + dt.timedelta(minutes=1)
    first, _ = reminders._claim(seen_by_first, now=now)
    second, _ = reminders._claim(seen_by_second, now=now)
    assert [kind for kind, _ in first] == ["nrs", "peg"]
    assert second == []
    assert SentDiaryReminder.objects.count() == 2


def test_a_paused_schedule_sends_nothing_and_moves_on(diary_world: World) -> None:
    schedule = _due_schedule(diary_world, due=SUNDAY_7PM)
    # Paused after the instant was computed (e.g. by a clinician's change in another tab).
    ReminderSchedule.objects.filter(pk=schedule.pk).update(
        paused_until=SUNDAY + dt.timedelta(days=2)
    )
    mail.outbox.clear()
    assert services.diary_reminders_send(now=SUNDAY_7PM + dt.timedelta(minutes=2)) == 0
    assert mail.outbox == []
    schedule.refresh_from_db()
    assert schedule.next_due_at == _at_7pm(3)


def test_a_reminder_found_hours_late_is_skipped_not_sent_at_night(diary_world: World) -> None:
    schedule = _due_schedule(diary_world, due=SUNDAY_7PM)
    mail.outbox.clear()
    late = SUNDAY_7PM + dt.timedelta(hours=7)
    assert services.diary_reminders_send(now=late) == 0
    assert mail.outbox == []
    schedule.refresh_from_db()
    assert schedule.next_due_at == _at_7pm(1)


def test_the_dispatch_job_enqueues_its_successor_once(diary_world: World) -> None:
    assert tasks.diary_reminders_dispatch.call() == "sent 0"
    # A second run in the same five minutes (another worker) does nothing.
    assert tasks.diary_reminders_dispatch.call() == ALREADY_RUN
    waiting = DBTaskResult.objects.filter(task_path__endswith="diary_reminders_dispatch")
    assert waiting.count() == 1


def test_the_link_purge_job_runs_and_reschedules(diary_world: World) -> None:
    assert tasks.diary_link_purge.call() == "deleted 0"
    assert DBTaskResult.objects.filter(task_path__endswith="diary_link_purge").count() == 1


def test_the_emailed_links_record_the_entries(diary_world: World, client: Client) -> None:
    _due_schedule(diary_world, due=SUNDAY_7PM)
    mail.outbox.clear()
    services.diary_reminders_send(now=SUNDAY_7PM + dt.timedelta(minutes=1))
    nrs_url, peg_url = re.findall(r"https?://\S+/d/[^/\s]+/", str(mail.outbox[0].body))
    # The links carry nothing but a signed nonce: no date, no patient id, no email address.
    assert SUNDAY.isoformat() not in nrs_url
    assert str(diary_world.alice_patient.public_id) not in nrs_url
    path = nrs_url.split("://", 1)[1].split("/", 1)[1]
    # Links live 48 hours from the email; the test clock is "now", so re-date the rows.
    DiaryLink.objects.update(expires_at=timezone.now() + dt.timedelta(hours=1))
    assert client.post("/" + path, {"pain": "5"}).status_code == 200
    peg_path = peg_url.split("://", 1)[1].split("/", 1)[1]
    client.post("/" + peg_path, {"pain": "5", "enjoyment": "6", "general_activity": "7"})
    rows = sorted(DiaryEntry.objects.values_list("instrument", "entry_date", "score"))
    assert rows == [("nrs", SUNDAY, 5.0), ("peg", SUNDAY, 6.0)]


def test_patient_zone_falls_back_to_the_clinics_first_location(world: World) -> None:
    patient = world.other_patient
    assert patient.home_location is None
    assert timing.patient_zone(patient) == zoneinfo.ZoneInfo("America/New_York")


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_the_same_instant_send_one_email(world: World) -> None:
    """Real threads with their own connections, released together. On PostgreSQL the unique
    claim decides; on SQLite the writers queue (a worker that finds the test database locked
    runs its job again, as the real worker's busy timeout would make it wait)."""
    registered_since(world.alice_patient, 120)
    _due_schedule(world, due=SUNDAY_7PM)
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    sent: list[object] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            for attempt in range(50):
                try:
                    sent.append(
                        services.diary_reminders_send(now=SUNDAY_7PM + dt.timedelta(minutes=1))
                    )
                    return
                except OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 49:
                        raise
                    time.sleep(0.01 * (attempt + 1))
        except Exception as exc:
            sent.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(sent, key=repr) == [0, 1], sent
    assert len(mail.outbox) == 1
    assert SentDiaryReminder.objects.count() == 2


def test_a_week_after_a_series_the_reminder_also_asks_the_pgic_once(diary_world: World) -> None:
    infusions(
        diary_world, diary_world.alice_patient, [SUNDAY - dt.timedelta(days=n) for n in (9, 8)]
    )
    _due_schedule(diary_world, due=SUNDAY_7PM)
    mail.outbox.clear()
    services.diary_reminders_send(now=SUNDAY_7PM + dt.timedelta(minutes=1))
    assert "How has your overall condition changed" in mail.outbox[0].body
    assert len(re.findall(r"/d/[^/\s]+/", str(mail.outbox[0].body))) == 3
    # The next day's reminder does not ask it again.
    services.diary_reminders_send(now=_at_7pm(1) + dt.timedelta(minutes=1))
    assert len(mail.outbox) == 2
    assert "overall condition" not in mail.outbox[1].body
    assert sorted(SentDiaryReminder.objects.values_list("instrument", "local_date")) == [
        ("nrs", SUNDAY),
        ("nrs", SUNDAY + dt.timedelta(days=1)),
        ("peg", SUNDAY),
        ("pgic", SUNDAY),
    ]


def test_the_pgic_is_not_asked_while_the_series_is_recent(diary_world: World) -> None:
    infusions(diary_world, diary_world.alice_patient, [SUNDAY - dt.timedelta(days=3)])
    _due_schedule(diary_world, due=SUNDAY_7PM)
    mail.outbox.clear()
    services.diary_reminders_send(now=SUNDAY_7PM + dt.timedelta(minutes=1))
    assert "overall condition" not in mail.outbox[0].body


def test_deferred_sessions_never_make_the_reminder_ask_the_pgic(diary_world: World) -> None:
    # Item 10 of the policy's gates: a series "ended" only if a session was given.
    infusions(
        diary_world,
        diary_world.alice_patient,
        [SUNDAY - dt.timedelta(days=n) for n in (9, 8)],
        status=AppointmentStatus.ARRIVED,
        session="deferred",
    )
    _due_schedule(diary_world, due=SUNDAY_7PM)
    mail.outbox.clear()
    services.diary_reminders_send(now=SUNDAY_7PM + dt.timedelta(minutes=1))
    assert "overall condition" not in mail.outbox[0].body
    assert sorted(SentDiaryReminder.objects.values_list("instrument", "local_date")) == [
        ("nrs", SUNDAY),
        ("peg", SUNDAY),
    ]
