"""Benchmark the clinic chain (issue 17): every page at a chain's size, the audit page over its
trail, the stored-results refresh after new diary entries, and a diary save on short and long
diaries.

It measures whatever the working tree holds (the pages, the audit page's paging, the refresh),
against a database seeded once and reused:

1. **Seed (or reuse).** The database (``BENCH_DATABASE_URL``, or ``--database-url``; PostgreSQL
   by default, a ``sqlite:///`` file works too) is created and migrated if missing, loaded with
   the demo clinic (``ketaclinic demo --no-history``), then seeded with ``ketaclinic seed
   --locations L --patients N --years Y`` (50 audit events a patient). A database that already
   holds at least N seeded patients is reused as it is; the seeding time is reported when this
   run seeded.
2. **Pages.** Every route of the authorization matrix (``tests/test_authorization_matrix.py``)
   as every persona it answers 200 to (the demo's staff and patients; a physician of a second
   clinic for the cross-clinic rows), through Django's test client: median and p95 of
   ``--runs`` requests after one warm-up, and the number of queries. Each route's own records
   (the matrix's factories) are made inside a transaction that is rolled back, so runs do not
   pile up data.
3. **Audit page.** As the clinic admin: the newest page, the first page of three months'
   filters (the oldest, the middle and the newest month of the trail), the oldest page, and the
   page ``--deep`` pages down (following the page's own "Older" links).
4. **Refresh.** 100 seeded patients record today's pain score through the diary service, then
   the periodic refresh runs (``outcomes_refresh_changed`` where it exists, else the whole-clinic
   ``series_results_refresh`` of those patients); rolled back afterwards.
5. **Diary save.** ``diary_entry_record`` for the seeded patient with the shortest diary and the
   one with the longest (median of ``--runs``, each rolled back).

Targets (issue 17): a page's median under 150 ms; the audit page under 50 ms; the refresh after
100 entries under 5 s. Run from the repository root:

    .venv/bin/python bench/chain_bench.py --patients 10000
    .venv/bin/python bench/chain_bench.py --database-url sqlite:///var/chain.sqlite3 \
        --patients 10000 --sections audit

Only the text between ``<!-- chain-bench:start -->`` and ``<!-- chain-bench:end -->`` in
docs/benchmarks.md is rewritten (``--no-write`` to print only); a SQLite run writes between
``<!-- chain-bench-sqlite:start -->`` and ``<!-- chain-bench-sqlite:end -->``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.* (the matrix, its factories)
DOC = ROOT / "docs" / "benchmarks.md"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kc_chain_bench"
PAGE_TARGET_MS, AUDIT_TARGET_MS, REFRESH_TARGET_S = 150.0, 50.0, 5.0
SECTIONS = ("pages", "audit", "refresh", "diary")


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a transaction that is always rolled back."""
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _setup(database_url: str) -> None:
    os.environ.setdefault("KETACLINIC_MODE", "test")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaclinic.settings")
    if database_url.startswith("postgres"):
        import dj_database_url
        import psycopg

        name = dj_database_url.parse(database_url)["NAME"]
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The test client's host and local e-mail, as Django's test set-up gives them, but not its
    # instrumented template rendering (a signal and a context copy per template drawn, which a
    # served page does not pay: about a third of the audit page's time).
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)


def seed_chain(
    *, patients: int, locations: int, years: float, audit_per_patient: int = 50
) -> tuple[Any, float | None, str]:
    """The demo clinic seeded to ``patients`` (reused when it already is); the seconds seeding
    took (None when reused) and the seed's summary line."""
    from io import StringIO

    from django.core.management import call_command

    from ketaclinic.clinics.models import Clinic
    from ketaclinic.devdata.demo import CLINIC_SLUG
    from ketaclinic.patients.models import Patient

    if not Clinic.objects.filter(slug=CLINIC_SLUG).exists():
        call_command("demo", "--no-history", stdout=StringIO())
    clinic = Clinic.objects.get(slug=CLINIC_SLUG)
    have = Patient.objects.filter(clinic=clinic, mrn__startswith="S1-").count()
    if have >= patients:
        return clinic, None, f"reused: {have:,} seeded patients"
    if have:
        raise SystemExit(
            f"The database holds {have} seeded patients, fewer than {patients}: drop it."
        )
    out = StringIO()
    began = time.perf_counter()
    call_command(
        "seed", "--patients", str(patients), "--years", str(years), "--locations",
        str(locations), "--audit-per-patient", str(audit_per_patient), "--seed", "1",
        "--clinic", CLINIC_SLUG, "--quiet", stdout=out,
    )  # fmt: skip
    return clinic, time.perf_counter() - began, out.getvalue().strip()


def _world(clinic: Any) -> Any:
    """The matrix's personas in the chain database: the demo's staff and patients, and a
    physician of a second clinic (made once)."""
    from ketaclinic.accounts.models import Role, User
    from ketaclinic.clinics.models import Clinic, Location
    from ketaclinic.devdata.demo import PATIENT_LOGINS, STAFF
    from ketaclinic.patients.models import Patient
    from tests.factories import make_clinic, make_location, make_patient, make_user
    from tests.factories.world import World

    staff = {s.role: User.objects.get(email=s.email) for s in reversed(STAFF)}
    other = Clinic.objects.filter(name="Elsewhere Pain Center").first()
    if other is None:
        other = make_clinic("Elsewhere Pain Center")
        site = make_location(other, "Akron")
        make_user(other, Role.PHYSICIAN, email="olga@elsewhere.test", locations=(site,))
        make_patient(other, given="Oscar", family="Other")
    alice, bob = (User.objects.get(email=e) for e in PATIENT_LOGINS.values())
    return World(
        clinic=clinic,
        cleveland=Location.objects.get(clinic=clinic, name="Cleveland"),
        charlotte=Location.objects.get(clinic=clinic, name="Charlotte"),
        other_clinic=other,
        alice=alice,
        alice_patient=Patient.objects.get(user=alice),
        bob=bob,
        bob_patient=Patient.objects.get(user=bob),
        front_desk=staff[Role.FRONT_DESK],
        nurse=User.objects.get(email=STAFF[1].email),
        physician=staff[Role.PHYSICIAN],
        clinic_admin=staff[Role.CLINIC_ADMIN],
        other_physician=User.objects.get(email="olga@elsewhere.test"),
        other_patient=Patient.objects.filter(clinic=other).order_by("pk")[0],
    )


@dataclass
class Timing:
    label: str
    times_ms: list[float] = field(default_factory=list)
    queries: int = 0
    status: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _timed_get(client: Any, url: str, runs: int, label: str) -> tuple[Timing, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = Timing(label)
    response = client.get(url)  # warm-up
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    timing.queries, timing.status = len(queries.captured_queries), response.status_code
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        if response.streaming:  # a file (the letter's PDF): read to the end, as a browser does
            b"".join(response.streaming_content)
        timing.times_ms.append((time.perf_counter() - began) * 1000)
    body = b"" if response.streaming else response.content
    return timing, body.decode(errors="replace")


def _free_first_chair(world: Any) -> None:
    """The matrix's infusion factories book "Chair 1" at Cleveland now, which the demo clinic's
    day has booked already: inside the route's rolled-back transaction, the demo's chair takes
    another name and an empty "Chair 1" stands beside it."""
    from ketaclinic.clinics.models import Chair

    Chair.objects.filter(location=world.cleveland, name="Chair 1").update(name="Chair 1 (demo)")
    Chair.objects.create(location=world.cleveland, name="Chair 1")


def bench_pages(world: Any, runs: int, unmeasured: list[str], only: str = "") -> list[Timing]:
    from django.urls import reverse

    from tests.authz import OK
    from tests.conftest import PERSONAS
    from tests.factories.sessions import signed_in_client
    from tests.test_authorization_matrix import MATRIX

    clients = {p: signed_in_client(world.persona(p)) for p in PERSONAS if p != "anonymous"}
    from django.test import Client

    clients["anonymous"] = Client()
    results = []
    for name, (expected, kwargs_of) in MATRIX.items():
        if only and only not in name:
            continue
        openers = [p for column, p in enumerate(PERSONAS) if expected[column] == OK]
        if not openers:
            continue
        try:
            with rolled_back():
                _free_first_chair(world)
                url = reverse(name, kwargs=(kwargs_of(world) if kwargs_of else None) or None)
                for persona in openers:
                    timing, _ = _timed_get(clients[persona], url, runs, f"{name} as {persona}")
                    results.append(timing)
        except Exception as error:
            # The matrix's factories expect the test world; one that collides with the demo
            # clinic's own records (a name it already uses) is reported, not measured.
            unmeasured.append(f"`{name}` ({type(error).__name__}: {str(error)[:120]})")
    return results


def bench_audit(world: Any, runs: int, deep: int) -> list[Timing]:
    from django.urls import reverse

    from ketaclinic.audit.models import AuditEvent
    from tests.factories.sessions import signed_in_client

    client = signed_in_client(world.clinic_admin)
    url = reverse("audit:events")
    results = []
    client.post(url, {"clear": "1"})
    results.append(_timed_get(client, url, runs, "newest page")[0])
    results.append(_timed_get(client, url + "?at=oldest", runs, "oldest page")[0])
    # ``deep`` pages down by the page's own rel="next" links (offset or keyset, whatever the
    # page uses); the label says how far it got.
    href, html, depth = url, "", 0
    for depth in range(deep):  # noqa: B007 -- the depth reached is reported
        html = client.get(href).content.decode(errors="replace")
        found = re.search(r'href="(\?[^"]*)"[^>]*rel="next"', html)  # the pager's "Older"
        if found is None:
            break
        href = url + found.group(1).replace("&amp;", "&")
    else:
        depth = deep
    results.append(_timed_get(client, href, runs, f"{depth} pages down")[0])
    events = AuditEvent.objects.filter(clinic=world.clinic)
    first = events.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    last = events.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    if first is not None and last is not None:
        middle = first + (last - first) / 2
        for label, moment in (("oldest", first), ("middle", middle), ("newest", last)):
            start = moment.date().replace(day=1)
            end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            client.post(url, {"date_from": start.isoformat(), "date_to": end.isoformat()})
            timing, _ = _timed_get(
                client, url, runs, f"month filter, {label} month ({start:%Y-%m})"
            )
            results.append(timing)
        client.post(url, {"clear": "1"})
    return results


def _diary_record(patient: Any, day: dt.date) -> None:
    from ketaclinic.audit.services import Actor
    from ketaclinic.outcomes.diary.services import diary_entry_record

    diary_entry_record(
        actor=Actor(user=None), patient=patient, instrument="nrs", entry_date=day,
        answers={"pain": 6},
    )  # fmt: skip


def bench_refresh(world: Any) -> tuple[float, str]:
    from django.utils import timezone

    from ketaclinic.outcomes import api as outcomes
    from ketaclinic.outcomes.boosters import services as boosters
    from ketaclinic.patients.models import Patient

    today = timezone.localdate()
    patients = list(
        Patient.objects.filter(clinic=world.clinic, mrn__startswith="S1-").order_by("pk")[:100]
    )
    refresh: Callable[[], Any]
    if hasattr(boosters, "outcomes_refresh_changed"):  # the periodic job of what changed
        how = "outcomes_refresh_changed (what changed)"

        def refresh() -> Any:
            return boosters.outcomes_refresh_changed(clinic=world.clinic)
    else:
        how = "series_results_refresh of the 100 patients"

        def refresh() -> Any:
            return outcomes.series_results_refresh(
                clinic=world.clinic, patient_ids=[p.pk for p in patients]
            )

    settled = ""
    if hasattr(boosters, "outcomes_refresh_changed"):
        # A seeded patient's results are stored marked (the booster check not yet done), so the
        # first refresh after seeding does the whole clinic once; it is run (and kept) before
        # the measurement, which is of the job in its steady state.
        from ketaclinic.outcomes.durability.services import series_results_changed

        pending = len(series_results_changed(clinic=world.clinic, now=timezone.now()))
        if pending:
            began = time.perf_counter()
            refresh()
            settled = (
                f"; first the refresh after seeding settled {pending:,} marked patients in "
                f"{time.perf_counter() - began:.0f} s (once, kept)"
            )
    drawn = ""
    with rolled_back():
        for patient in patients:
            _diary_record(patient, today)
        began = time.perf_counter()
        refresh()
        seconds = time.perf_counter() - began
        try:
            from ketaclinic.analytics.services import analytics_warm
        except ImportError:  # before the analytics kept their figures
            pass
        else:
            began = time.perf_counter()
            analytics_warm(clinic=world.clinic)
            drawn = (
                f"; then the worker counted the analytics page's figures afresh for the new"
                f" state in {time.perf_counter() - began:.2f} s (the page reads them kept)"
            )
    return seconds, how + settled + drawn


def bench_diary_save(world: Any, runs: int) -> list[Timing]:
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from ketaclinic.patients.models import Patient

    ranked = (
        Patient.objects.filter(clinic=world.clinic, mrn__startswith="S1-")
        .annotate(n=Count("diary_entries"))
        .order_by("n", "pk")
    )
    shortest, longest = ranked.first(), ranked.last()
    today = timezone.localdate()
    results = []
    for patient in (shortest, longest):
        if patient is None:
            continue
        timing = Timing(f"diary save, {patient.n:,} entries")
        with rolled_back(), CaptureQueriesContext(connection) as queries:
            _diary_record(patient, today)
        timing.queries = len(queries.captured_queries)
        for _ in range(runs + 1):
            with rolled_back():
                began = time.perf_counter()
                _diary_record(patient, today)
                timing.times_ms.append((time.perf_counter() - began) * 1000)
        timing.times_ms = timing.times_ms[1:]  # the first warms the caches
        results.append(timing)
    return results


def _table(rows: list[Timing], target: float | None) -> list[str]:
    lines = ["| what | median ms | p95 ms | queries | status |", "|---|---:|---:|---:|---:|"]
    for t in rows:
        flag = " **over**" if target is not None and t.median > target else ""
        lines.append(
            f"| {t.label} | {t.median:.1f}{flag} | {t.p95:.1f} | {t.queries} | {t.status or '-'} |"
        )
    return lines


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    from django.db import connection

    lines = [
        f"Command: `.venv/bin/python bench/chain_bench.py {' '.join(sys.argv[1:])}`",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores shared, Python {platform.python_version()}, "
        f"{connection.vendor}; {results['seeded']}.",
    ]
    if results.get("seed_s") is not None:
        lines.append(f"Seeding took {results['seed_s']:.0f} s.")
    counts = results["counts"]
    lines += ["", f"Data: {', '.join(f'{v:,} {k}' for k, v in counts.items())}.", ""]
    if "pages" in results:
        pages: list[Timing] = results["pages"]
        over = [t for t in pages if t.median > PAGE_TARGET_MS]
        lines += [
            f"**Pages** ({len(pages)} route x persona pairs, {args.runs} runs each after a "
            f"warm-up; target median under {PAGE_TARGET_MS:.0f} ms): {len(over)} over the "
            "target. The slowest 25:",
            "",
            *_table(sorted(pages, key=lambda t: -t.median)[:25], PAGE_TARGET_MS),
            "",
            f"Median of all pages' medians: {statistics.median(t.median for t in pages):.1f} ms; "
            f"most queries on one page: {max(t.queries for t in pages)}.",
            "",
        ]
        if results["unmeasured"]:
            lines += [
                "Not measured (the matrix's factory for the route collides with the demo "
                f"clinic's records): {', '.join(results['unmeasured'])}.",
                "",
            ]
    if "audit" in results:
        lines += [
            f"**Audit page** (clinic admin; target under {AUDIT_TARGET_MS:.0f} ms):",
            "",
            *_table(results["audit"], AUDIT_TARGET_MS),
            "",
        ]
    if "refresh" in results:
        seconds, how = results["refresh"]
        flag = "" if seconds <= REFRESH_TARGET_S else " (over the target)"
        lines += [
            f"**Stored-results refresh after 100 new diary entries** ({how}): {seconds:.2f} s"
            f"{flag}; target under {REFRESH_TARGET_S:.0f} s.",
            "",
        ]
    if "diary" in results:
        lines += ["**Diary save** (`diary_entry_record`):", "", *_table(results["diary"], None), ""]
    return "\n".join(lines)


def _counts(clinic: Any) -> dict[str, int]:
    from ketaclinic.audit.models import AuditEvent
    from ketaclinic.clinics.models import Location
    from ketaclinic.outcomes.models import DiaryEntry
    from ketaclinic.patients.models import Patient
    from ketaclinic.scheduling.models import Appointment

    return {
        "locations": Location.objects.filter(clinic=clinic).count(),
        "patients": Patient.objects.filter(clinic=clinic).count(),
        "appointments": Appointment.objects.filter(clinic=clinic).count(),
        "diary entries": DiaryEntry.objects.filter(clinic=clinic).count(),
        "audit events": AuditEvent.objects.filter(clinic=clinic).count(),
    }


def _write(text: str, sqlite: bool) -> None:
    tag = "chain-bench-sqlite" if sqlite else "chain-bench"
    start, end = f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"
    doc = DOC.read_text()
    if start not in doc:
        doc = doc.rstrip() + f"\n\n{start}\n{end}\n"
    before, rest = doc.split(start, 1)
    after = rest.split(end, 1)[1]
    DOC.write_text(f"{before}{start}\n{text}\n{end}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--locations", type=int, default=50)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument(
        "--audit-per-patient",
        type=int,
        default=50,
        help="audit events seeded a patient (5 M in all: 50 at 100,000 patients, 500 at 10,000)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page")
    parser.add_argument("--deep", type=int, default=50, help="audit pages to follow down")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--only", default="", help="pages whose route name contains this")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    _setup(args.database_url)
    clinic, seed_s, seeded = seed_chain(
        patients=args.patients,
        locations=args.locations,
        years=args.years,
        audit_per_patient=args.audit_per_patient,
    )
    world = _world(clinic)
    results: dict[str, Any] = {"seed_s": seed_s, "seeded": seeded, "counts": _counts(clinic)}
    if "pages" in sections:
        results["unmeasured"] = []
        results["pages"] = bench_pages(world, args.runs, results["unmeasured"], args.only)
    if "audit" in sections:
        results["audit"] = bench_audit(world, args.runs, args.deep)
    if "refresh" in sections:
        results["refresh"] = bench_refresh(world)
    if "diary" in sections:
        results["diary"] = bench_diary_save(world, args.runs)
    text = report(args, results)
    print(text)
    if not args.no_write:
        _write(text, sqlite=args.database_url.startswith("sqlite"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
