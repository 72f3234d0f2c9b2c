"""``/metrics``: Prometheus text with the request times of every web worker, and the database's
truths read at scrape time; off without ``METRICS_TOKEN``, a bearer token with it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ketaclinic.audit.models import AuditEvent
from ketaclinic.lib.tasks import APPOINTMENT_REMINDER, WORKER_HEARTBEAT, task_at
from ketaclinic.outcomes.models import SentDiaryReminder
from ketaclinic.scheduling.models import SentReminder
from ketaclinic.web import metrics, queue
from ketaclinic.web.health import HEARTBEAT
from ketaclinic.web.models import JobOutcome, JobRun
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule

pytestmark = pytest.mark.django_db

TOKEN = "metrics-t0ken-for-the-tests"
NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def scraper(settings: Any) -> Client:
    settings.METRICS_TOKEN = TOKEN
    return Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client: Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def _run(
    path: str, finished: dt.datetime, outcome: str, started: dt.datetime | None = None
) -> None:
    JobRun.objects.create(
        task_id=uuid.uuid4().hex,
        task_path=path,
        started_at=started or finished - dt.timedelta(seconds=2),
        finished_at=None if outcome == JobOutcome.RUNNING else finished,
        outcome=outcome,
        error_class="builtins.RuntimeError" if outcome == JobOutcome.FAILED else "",
        worker_host="worker-1",
        worker_pid=7,
    )


def _waiting(run_after: dt.datetime | None) -> None:
    job = task_at(WORKER_HEARTBEAT)
    (job if run_after is None else job.using(run_after=run_after)).enqueue()


# --- who may read them ------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(client_for: Any, world: World) -> None:
    assert Client().get("/metrics").status_code == 404
    assert client_for("clinic_admin").get("/metrics").status_code == 404


def test_a_scraper_without_the_right_token_is_refused(scraper: Client, world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = Client().get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"ketaclinic_" not in response.content
    assert scraper.get("/metrics").status_code == 200


# --- the database's truths --------------------------------------------------------------------


def test_the_scrape_reports_the_queue_jobs_heartbeat_and_reminders(
    scraper: Client, world: World, frozen: None
) -> None:
    _run(HEARTBEAT, NOW - dt.timedelta(seconds=45), JobOutcome.SUCCEEDED)
    _run(HEARTBEAT, NOW - dt.timedelta(seconds=105), JobOutcome.SUCCEEDED)
    _run(APPOINTMENT_REMINDER, NOW - dt.timedelta(hours=2), JobOutcome.SUCCEEDED)
    _run(APPOINTMENT_REMINDER, NOW - dt.timedelta(hours=1), JobOutcome.FAILED)
    _run(APPOINTMENT_REMINDER, NOW, JobOutcome.RUNNING, started=NOW - dt.timedelta(seconds=3))
    # Two days ago: in "last success", not in the day's runs.
    _run(WORKER_HEARTBEAT, NOW - dt.timedelta(days=2), JobOutcome.SUCCEEDED)
    _waiting(None)
    _waiting(NOW - dt.timedelta(minutes=1))
    _waiting(NOW + dt.timedelta(hours=48))
    sched = setup_schedule(world)
    appointment = consultation_appointment(sched, world.alice_patient, NOW + dt.timedelta(days=3))
    SentReminder.objects.create(appointment=appointment, kind="48h", start=appointment.start)
    SentDiaryReminder.objects.create(
        patient=world.alice_patient, instrument="nrs", local_date=NOW.date()
    )
    SentDiaryReminder.objects.create(
        patient=world.bob_patient, instrument="nrs", local_date=NOW.date()
    )

    got = scrape(scraper)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("ketaclinic_database_up") == 1
    assert value("ketaclinic_queue_jobs", state="ready") == 2
    assert value("ketaclinic_queue_jobs", state="scheduled") == 1
    assert value("ketaclinic_worker_heartbeat_age_seconds") == 45
    assert (
        value("ketaclinic_job_last_success_timestamp_seconds", job=HEARTBEAT)
        == (NOW - dt.timedelta(seconds=45)).timestamp()
    )
    assert (
        value("ketaclinic_job_last_success_timestamp_seconds", job=APPOINTMENT_REMINDER)
        == (NOW - dt.timedelta(hours=2)).timestamp()
    )
    assert (
        value("ketaclinic_job_last_failure_timestamp_seconds", job=APPOINTMENT_REMINDER)
        == (NOW - dt.timedelta(hours=1)).timestamp()
    )
    runs = {
        labels: n for (name, labels), n in got.items() if name == "ketaclinic_job_runs_last_day"
    }
    assert runs == {
        (("job", HEARTBEAT), ("outcome", "succeeded")): 2,
        (("job", APPOINTMENT_REMINDER), ("outcome", "succeeded")): 1,
        (("job", APPOINTMENT_REMINDER), ("outcome", "failed")): 1,
        (("job", APPOINTMENT_REMINDER), ("outcome", "running")): 1,
    }
    assert value("ketaclinic_reminders_sent_total", kind="appointment_48h") == 1
    assert value("ketaclinic_reminders_sent_total", kind="appointment_2h") == 0
    assert value("ketaclinic_reminders_sent_total", kind="diary") == 2


def test_no_heartbeat_is_an_infinite_age(scraper: Client, world: World) -> None:
    assert scrape(scraper)[("ketaclinic_worker_heartbeat_age_seconds", ())] == float("inf")


def test_the_scrape_asks_as_many_queries_for_a_long_history_and_audits_nothing(
    scraper: Client, world: World, django_assert_num_queries: Any
) -> None:
    now = timezone.now()
    for minutes in range(300):
        _run(HEARTBEAT, now - dt.timedelta(minutes=minutes), JobOutcome.SUCCEEDED)
        _run(f"ketaclinic.some.tasks.job_{minutes % 7}", now, JobOutcome.FAILED)
    events = AuditEvent.objects.count()
    # The queue, the jobs' last runs, the day's runs, and each kind of reminder's newest id and
    # rows past those counted for good (web/metrics.py running_count).
    with django_assert_num_queries(7):
        scrape(scraper)
    assert AuditEvent.objects.count() == events


def test_reminders_are_counted_once_then_only_what_was_added(
    world: World, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    monkeypatch.setattr(metrics, "RUNNING_TAIL", 2)
    patients = [world.alice_patient, world.bob_patient, world.other_patient]

    def send(day: int) -> None:
        for patient in patients:
            SentDiaryReminder.objects.create(
                patient=patient, instrument="nrs", local_date=NOW.date() + dt.timedelta(days=day)
            )

    rows = SentDiaryReminder.objects.all()
    send(0)
    # The newest id, the rows up to the tail (counted for good), the tail.
    with django_assert_num_queries(3):
        assert metrics.running_count("diary", rows) == {"": 3}
    with django_assert_num_queries(2):  # nothing new: the newest id and the tail
        assert metrics.running_count("diary", rows) == {"": 3}
    send(1)
    send(2)
    with django_assert_num_queries(3):
        assert metrics.running_count("diary", rows) == {"": 9}
    # A counter: what the shared cache settled is not counted again.
    assert metrics.running_count("diary", rows) == {"": 9}


def test_a_database_that_fails_is_reported_and_does_not_fail_the_scrape(
    scraper: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(now: dt.datetime) -> Any:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(queue, "queue_depth", broken)
    got = scrape(scraper)
    assert got[("ketaclinic_database_up", ())] == 0
    assert not any(name.startswith("ketaclinic_queue") for name, _ in got)


# --- request times ----------------------------------------------------------------------------


def _count(got: Samples, view: str, method: str = "GET", status: str = "2xx") -> float:
    key = (
        "ketaclinic_http_request_duration_seconds_count",
        (("method", method), ("status", status), ("view", view)),
    )
    return got.get(key, 0.0)


def test_each_request_is_timed_by_route_name_method_and_status_class(
    scraper: Client, world: World
) -> None:
    before = scrape(scraper)
    client = Client()
    for _ in range(3):
        client.get("/healthz")
    client.post("/healthz")  # 405
    client.get("/staff/patients/")  # anonymous: to the sign-in page
    client.get(f"/d/{'s3cret' * 4}/nothing-here/")  # no route: the token is no label
    after = scrape(scraper)
    assert _count(after, "healthz") - _count(before, "healthz") == 3
    assert _count(after, "healthz", "POST", "4xx") - _count(before, "healthz", "POST", "4xx") == 1
    assert (
        _count(after, "patients:list", status="3xx") - _count(before, "patients:list", status="3xx")
        == 1
    )
    labels = {str(labels) for _, labels in after}
    assert "s3cret" not in " ".join(labels)
    assert "/staff/" not in " ".join(labels)


SUBPROCESS = textwrap.dedent(
    """
    import django
    django.setup()
    from django.test import Client
    client = Client()
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    """
)


def test_several_web_workers_are_added_up_through_the_multiprocess_directory(
    tmp_path: Path, scraper: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = metrics.multiprocess_environment(
        {**os.environ, "KETACLINIC_MODE": "test"}, var_dir=tmp_path
    )
    directory = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    assert directory == tmp_path / "metrics"
    env.update(
        DJANGO_SETTINGS_MODULE="ketaclinic.settings",
        # /healthz touches no table: an empty database file will do.
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        KETACLINIC_VAR_DIR=str(tmp_path / "var"),
    )
    for _ in range(2):  # two workers, one after the other
        done = subprocess.run(
            [sys.executable, "-c", SUBPROCESS], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    assert len(list(directory.glob("*.db"))) >= 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    got = scrape(scraper)
    assert _count(got, "healthz") == 4
    # The database's truths are there too, read once whatever the number of workers.
    assert got[("ketaclinic_database_up", ())] == 1


def test_the_multiprocess_directory_is_emptied_of_old_values_only(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    (directory / "histogram_123.db").write_bytes(b"old")
    (directory / "notes.txt").write_text("the operator's")
    env = metrics.multiprocess_environment(
        {"PROMETHEUS_MULTIPROC_DIR": str(directory)}, var_dir=tmp_path
    )
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
