"""Benchmark the FHIR Bulk Data export (issue 18): a system-level ``$export`` of a seeded clinic,
in resources per second and the worker's peak memory.

1. **Seed (or reuse)** the chain's database as ``bench/chain_bench.py`` does (PostgreSQL by
   default; ``--patients`` seeded patients with their diaries, appointments and audit trail).
2. **Export.** A backend client of the clinic asks for every type (``bulk.export_request``, as
   the kick-off does), then a separate process runs the worker's job (``bulk.export_run``) while
   a thread samples its resident memory every 0.2 s: the peak, and the memory after each tenth
   of the resources, show whether it stays flat as the files grow.
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
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks.md"
TARGET_PER_S = 20_000


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_export(export_pk: int) -> dict[str, Any]:
    """The worker's job, in this process, with its memory sampled: what ``--run`` prints."""
    from ketaclinic.fhir import bulk
    from ketaclinic.fhir.models import BulkExport

    samples: list[tuple[float, float, str]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            progress = BulkExport.objects.filter(pk=export_pk).values_list("progress", flat=True)
            samples.append((time.perf_counter(), _rss_mib(), str(progress.first() or "")))
            done.wait(0.2)

    from django.db import connections

    start_rss = _rss_mib()
    sampler = threading.Thread(target=sample, daemon=True)
    began = time.perf_counter()
    sampler.start()
    bulk.export_run(export_pk)
    seconds = time.perf_counter() - began
    done.set()
    sampler.join()
    connections.close_all()
    return {
        "seconds": seconds,
        "start_rss": start_rss,
        "peak_rss": max(rss for _, rss, _ in samples),
        "samples": [(round(t - began, 1), round(rss, 1), text) for t, rss, text in samples],
    }


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    run = results["run"]
    files = results["files"]
    total = sum(count for _, count, _ in files)
    rate = total / run["seconds"]
    samples = run["samples"]
    # Memory when a tenth, half and nine tenths of the time had passed.
    marks = [samples[int(len(samples) * share)] for share in (0.1, 0.5, 0.9)] if samples else []
    lines = [
        f"Measured {results['when']} on {platform.node() or 'this machine'}"
        f" ({os.cpu_count()} cores), {results['engine']}, by `bench/fhir_export_bench.py"
        f" --patients {args.patients}`; {results['seeded']}"
        + (f", seeded in {results['seed_s']:.0f} s" if results["seed_s"] else "")
        + ".",
        "",
        "| Type | Resources | File size |",
        "|---|---:|---:|",
        *[f"| {name} | {count:,} | {size / 1e6:,.1f} MB |" for name, count, size in files],
        f"| **All** | **{total:,}** | **{sum(s for _, _, s in files) / 1e6:,.1f} MB** |",
        "",
        f"- Written in {run['seconds']:.1f} s: **{rate:,.0f} resources a second** (goal"
        f" {TARGET_PER_S:,}: {'met' if rate >= TARGET_PER_S else 'NOT met'}).",
        f"- The worker's memory: {run['start_rss']:.0f} MiB before the job, peak"
        f" {run['peak_rss']:.0f} MiB; "
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
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    _setup(args.database_url)
    if args.run:
        print(json.dumps(run_export(args.run)))
        return 0

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
    # The job in a process of its own, as the worker runs it, so its memory is its own.
    child = subprocess.run(  # noqa: S603 - this interpreter and this file
        [sys.executable, __file__, "--database-url", args.database_url, "--run", str(export.pk)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    run = json.loads(child.stdout.strip().splitlines()[-1])
    files = [
        (each.resource_type, each.count, each.size)
        for each in BulkExportFile.objects.filter(export=export).order_by("resource_type")
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
