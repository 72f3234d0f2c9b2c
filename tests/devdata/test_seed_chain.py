"""The chain-size seed: sites added to a clinic, an audit trail on the clinic's hash chain that
``audit verify`` accepts, and short transactions that let a live server write while it runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from ketaclinic.audit.integrity import chain_verify
from ketaclinic.audit.models import AuditChainHead, AuditEvent
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.devdata.seeding import SeedRefusedError, audit_trail
from ketaclinic.outcomes.models import DiaryEntry
from ketaclinic.patients.models import Patient
from tests import factories
from tests.analytics.helpers import TODAY
from tests.conftest import World
from tests.devdata.test_seed import _snapshot

ROOT = Path(__file__).resolve().parents[2]


def _seed(world_clinic: Any, patients: int, **options: Any) -> Any:
    from ketaclinic.devdata.seeding import seed_clinic

    return seed_clinic(
        clinic=world_clinic, patients=patients, years=1.0, seed=3, today=TODAY, **options
    )


def _admin_reads_a_record(world: World) -> None:
    with transaction.atomic():
        audit_record(
            actor=Actor(user=world.clinic_admin),
            action="read",
            object_type="patient",
            object_id=world.alice_patient.public_id,
            patient=world.alice_patient,
        )


@pytest.mark.django_db
def test_seed_adds_sites_and_chains_its_audit_trail_after_the_clinics_events(
    world: World,
) -> None:
    _admin_reads_a_record(world)  # the chain already has a head: the seed must follow it
    before = AuditEvent.objects.filter(clinic=world.clinic).count()

    summary = _seed(world.clinic, 6, locations=5, audit_per_patient=30)

    sites = Location.objects.filter(clinic=world.clinic)
    assert sites.count() == 5  # Cleveland, Charlotte and three seed sites
    assert Chair.objects.filter(location__name__startswith="Seed site").count() == 3 * 4
    # The patients are spread over the sites, the new ones included.
    homes = set(
        Patient.objects.filter(mrn__startswith="S3-").values_list("home_location", flat=True)
    )
    assert homes <= set(sites.values_list("pk", flat=True))
    assert summary.audit_events == 6 * 30
    seeded = AuditEvent.objects.filter(clinic=world.clinic, patient__mrn__startswith="S3-")
    assert seeded.count() == 180
    assert AuditEvent.objects.filter(clinic=world.clinic).count() >= before + 180
    assert set(seeded.values_list("action", flat=True)) >= {"create", "sign", "read"}
    # Every seeded hash is recomputed by ``audit verify`` with ``event_hash``: the fast path
    # writes exactly what the service would.
    report = chain_verify()
    assert report.intact, [b.describe() for b in report.broken]
    head = AuditChainHead.objects.get(chain=world.clinic.pk)
    assert (
        head.last_event_id == AuditEvent.objects.filter(clinic=world.clinic).order_by("-id")[0].pk
    )

    # The live application appends after the seed, and the chain still holds.
    _admin_reads_a_record(world)
    assert chain_verify().intact


@pytest.mark.django_db
def test_a_head_moved_while_the_batch_was_drawn_is_followed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _admin_reads_a_record(world)
    # The seed drew its hashes from a head that a live server has since moved on from.
    monkeypatch.setattr(audit_trail, "_head_now", lambda chain: "f" * 64)

    _seed(world.clinic, 2, audit_per_patient=10)

    report = chain_verify()
    assert report.intact, [b.describe() for b in report.broken]
    assert AuditEvent.objects.filter(patient__mrn__startswith="S3-").count() == 20


@pytest.mark.django_db
def test_the_audit_trail_changes_no_other_draw() -> None:
    with_trail, without = factories.make_clinic("With"), factories.make_clinic("Without")
    for clinic in (with_trail, without):
        factories.make_location(clinic, "Cleveland")
        factories.make_user(clinic, "physician")
    _seed(with_trail, 8, audit_per_patient=25)
    _seed(without, 8)
    assert _snapshot(with_trail.pk) == _snapshot(without.pk)
    assert (
        not AuditEvent.objects.filter(clinic=without, patient__isnull=False)
        .exclude(object_type="series_results")
        .exists()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"locations": 501}, "--locations"),
        ({"audit_per_patient": -1}, "--audit-per-patient"),
    ],
)
def test_bad_sizes_are_refused_and_nothing_is_written(
    world: World, options: dict[str, int], message: str
) -> None:
    sites, patients = Location.objects.count(), Patient.objects.count()
    with pytest.raises(SeedRefusedError, match=message):
        _seed(world.clinic, 3, **options)
    assert (Location.objects.count(), Patient.objects.count()) == (sites, patients)
    assert not DiaryEntry.objects.exists()


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's one write lock; the SQLite run covers it"
)
def test_a_live_writer_gets_the_sqlite_write_lock_while_the_seed_runs(tmp_path: Path) -> None:
    """Another connection takes the write lock again and again while ``ketaclinic seed`` writes
    to the same file (a live server's writes), each time within a generous busy timeout."""
    database = tmp_path / "live.sqlite3"
    env = {
        **os.environ,
        "KETACLINIC_MODE": "test",
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": str(ROOT / "src"),
    }
    _manage(env, "migrate", "-v0")
    _manage(env, "demo", "--no-history")
    probe = sqlite3.connect(database, timeout=60, isolation_level=None)
    probe.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, waited REAL)")

    seed = subprocess.Popen(
        [sys.executable, "-m", "ketaclinic.manage", "seed", "--patients", "500", "--years", "2",
         "--seed", "4", "--locations", "4", "--quiet"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    waits: list[float] = []
    seed_patients_seen: set[int] = set()
    try:
        while seed.poll() is None:
            asked = time.monotonic()
            probe.execute("BEGIN IMMEDIATE")  # raises "database is locked" past the timeout
            waited = time.monotonic() - asked
            probe.execute("INSERT INTO probe (waited) VALUES (?)", (waited,))
            seed_patients_seen.add(
                probe.execute(
                    "SELECT COUNT(*) FROM patients_patient WHERE mrn LIKE 'S4-%'"
                ).fetchone()[0]
            )
            probe.execute("COMMIT")
            waits.append(waited)
            time.sleep(0.05)
        out, err = seed.communicate(timeout=60)
    finally:
        if seed.poll() is None:
            seed.kill()
    assert seed.returncode == 0, err.decode()[-2000:]
    assert b"Seeded 500 patients" in out
    landed = probe.execute("SELECT COUNT(*) FROM probe").fetchone()[0]
    seeded = probe.execute(
        "SELECT COUNT(*) FROM patients_patient WHERE mrn LIKE 'S4-%'"
    ).fetchone()[0]
    probe.close()
    # Writes interleaved: the other writer committed many times while the seed ran, and saw
    # the seed part-way (some of its batches written, not all).
    assert landed == len(waits) >= 10
    assert seeded == 500
    assert any(0 < seen < 500 for seen in seed_patients_seen), sorted(seed_patients_seen)
    print(f"probe writes: {landed}, longest wait for the write lock: {max(waits):.3f} s")
