"""Benchmark the FHIR Bulk Data export (issue 18): a system-level ``$export`` of a seeded clinic,
in resources per second and the worker's peak memory.

1. **Seed (or reuse)** the chain's database as ``bench/chain_bench.py`` does (PostgreSQL by
   default; ``--patients`` seeded patients with their diaries, appointments and audit trail).
2. **Export.** A backend client of the clinic asks for every type (``bulk.export_request``, as
   the kick-off does, which enqueues the export's job), and ``--workers`` worker processes
   (django-tasks-db's ``db_worker``, the loop ``ketaclinic worker`` runs, without the periodic
   jobs) take the export's job and then its files' jobs. The time is from the kick-off to the
   export's status turning done; each worker's resident memory is sampled every 0.2 s: the
   peak, and the memory after a tenth, half and nine tenths of the time, show whether it stays
   flat as the files grow.
3. The files are deleted afterwards (the export is cancelled).

Goal (issue 18): at least 20,000 resources a second, with memory flat in the export's size.
Run from the repository root:

    .venv/bin/python bench/fhir_export_bench.py --patients 100000

Only the text between ``<!-- fhir-export-bench:start -->`` and ``<!-- fhir-export-bench:end -->``
in docs/benchmarks.md is rewritten (``--no-write`` to print only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks.md"
TARGET_PER_S = 20_000


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def run_workers(export_pk: int, workers: int, env: dict[str, str]) -> dict[str, Any]:
    """Start ``workers`` worker processes, wait for the export to be done (sampling each
    worker's memory), stop them; the seconds from now and the memory samples."""
    from ketaclinic.fhir import bulk
    from ketaclinic.fhir.models import BulkExport, ExportStatus

    command = [sys.executable, "-m", "ketaclinic.manage", "db_worker", "--interval", "0.2"]
    command += ["--no-startup-delay", "--no-reload"]
    began = time.perf_counter()
    children = [
        subprocess.Popen(  # noqa: S603 - this interpreter, the project's own command
            [*command, "--worker-id", f"export-bench-{n}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(workers)
    ]
    samples: list[tuple[float, list[float], str]] = []
    try:
        while True:
            export = BulkExport.objects.get(pk=export_pk)
            rss = [_rss_mib(child.pid) for child in children]
            samples.append((time.perf_counter() - began, rss, bulk.progress(export)))
            if export.status not in bulk.UNFINISHED:
                break
            if any(child.poll() is not None for child in children):
                raise RuntimeError("a worker stopped before the export was done")
            time.sleep(0.2)
        seconds = time.perf_counter() - began
        if export.status != ExportStatus.DONE:
            raise RuntimeError(f"the export ended {export.status}")
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=120)
    return {
        "seconds": seconds,
        "workers": workers,
        "peak_rss": max(max(rss) for _, rss, _ in samples),
        "samples": [(round(t, 1), round(max(rss), 1), text) for t, rss, text in samples],
    }


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    run = results["run"]
    files = results["files"]
    total = sum(count for _, _, count, _ in files)
    rate = total / run["seconds"]
    samples = run["samples"]
    # Memory when a tenth, half and nine tenths of the time had passed.
    marks = [samples[int(len(samples) * share)] for share in (0.1, 0.5, 0.9)] if samples else []
    lines = [
        f"Measured {results['when']} on {platform.node() or 'this machine'}"
        f" ({os.cpu_count()} cores), {results['engine']}, by `bench/fhir_export_bench.py"
        f" --patients {args.patients} --workers {run['workers']}`; {results['seeded']}"
        + (f", seeded in {results['seed_s']:.0f} s" if results["seed_s"] else "")
        + ".",
        "",
        "| Type | Files | Resources | Size |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {n} | {count:,} | {size / 1e6:,.1f} MB |" for name, n, count, size in files],
        f"| **All** | **{sum(n for _, n, _, _ in files)}** | **{total:,}** |"
        f" **{sum(s for _, _, _, s in files) / 1e6:,.1f} MB** |",
        "",
        f"- From the kick-off to the last file, with {run['workers']} worker"
        f" process{'' if run['workers'] == 1 else 'es'}:"
        f" {run['seconds']:.1f} s, **{rate:,.0f} resources a second** (goal"
        f" {TARGET_PER_S:,}: {'met' if rate >= TARGET_PER_S else 'NOT met'}).",
        f"- The largest worker's memory: peak {run['peak_rss']:.0f} MiB; "
        + ", ".join(f"{rss:.0f} MiB at {t:.0f} s ({text or 'starting'})" for t, rss, text in marks)
        + ".",
        f"- Audit: one export event for each of {results['audited']:,} patients.",
    ]
    return "\n".join(lines)


def _write(text: str) -> None:
    start, end = "<!-- fhir-export-bench:start -->", "<!-- fhir-export-bench:end -->"
    doc = DOC.read_text()
    if start not in doc:
        doc = doc.rstrip() + f"\n\n{start}\n{end}\n"
    before, rest = doc.split(start, 1)
    after = rest.split(end, 1)[1]
    DOC.write_text(f"{before}{start}\n{text}\n{end}{after}")


def main(argv: list[str] | None = None) -> int:
    from bench.chain_bench import DEFAULT_DB, _setup, seed_chain

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--locations", type=int, default=50)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (the cores)"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    _setup(args.database_url)

    from django.db.models import Count, Sum
    from django.utils import timezone

    from ketaclinic.audit.api import Actor
    from ketaclinic.audit.models import AuditEvent
    from ketaclinic.fhir import bulk
    from ketaclinic.fhir.access import FhirReader
    from ketaclinic.fhir.models import BulkExport, BulkExportFile
    from ketaclinic.fhir.services import fhir_client_register

    clinic, seed_s, seeded = seed_chain(
        patients=args.patients, locations=args.locations, years=args.years
    )
    BulkExport.objects.filter(clinic=clinic, status__in=bulk.UNFINISHED).update(status="cancelled")
    client, _ = fhir_client_register(
        actor=Actor(user=None), clinic=clinic, name="Export benchmark", kind="backend"
    )
    reader = FhirReader(
        user=None,
        clinic_id=clinic.pk,
        actor=Actor(user=None),
        scopes=frozenset({"system/*.read"}),
        client=str(client.application.client_id),
    )
    export = bulk.export_request(
        reader=reader, asked=bulk.ExportRequest(level="system", request_url="bench")
    )
    env = {**os.environ, "DATABASE_URL": args.database_url}
    run = run_workers(export.pk, args.workers, env)
    files = [
        (row["resource_type"], row["files"], row["resources"], row["bytes"])
        for row in BulkExportFile.objects.filter(export=export, count__gt=0)
        .values("resource_type")
        .annotate(files=Count("pk"), resources=Sum("count"), bytes=Sum("size"))
        .order_by("resource_type")
    ]
    audited = AuditEvent.objects.filter(
        object_type="fhir_export", detail__export=str(export.public_id)
    ).count()
    bulk.export_cancel(reader=reader, export_id=export.public_id)
    results = {
        "when": timezone.now().astimezone(dt.UTC).date().isoformat() + " (UTC)",
        "engine": "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite",
        "seed_s": seed_s,
        "seeded": seeded,
        "run": run,
        "files": files,
        "audited": audited,
    }
    text = report(args, results)
    print(text)
    if not args.no_write:
        _write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
