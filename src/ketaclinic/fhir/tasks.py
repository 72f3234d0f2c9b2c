"""Background jobs of the FHIR API, run by ``ketaclinic worker``: writing a Bulk Data export (a
job that plans it, then a job per file, which several workers share), and keeping exports
moving and deleting their files after the retention time (periodic, ``lib.tasks``)."""

from __future__ import annotations

from django_tasks import task

from ketaclinic.fhir import bulk
from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue


@task()
def fhir_export_run(export_pk: int) -> str:
    """Audit one export's patients and enqueue a job per file (``bulk.export_run``: a retried
    run does nothing)."""
    return bulk.export_run(export_pk)


@task()
def fhir_export_piece(piece_pk: int) -> str:
    """Write one file of an export; the last file written finishes the export
    (``bulk.export_piece``: a retried run does nothing)."""
    return bulk.export_piece(piece_pk)


@task()
def fhir_export_purge() -> str:
    """Delete the files of finished exports past ``FHIR_EXPORT_RETENTION_HOURS``, enqueue lost
    export jobs again and fail exports whose worker died (``bulk.export_purge``); hourly."""
    if not periodic_continue(fhir_export_purge):
        return ALREADY_RUN
    return f"deleted the files of {bulk.export_purge()} exports"
