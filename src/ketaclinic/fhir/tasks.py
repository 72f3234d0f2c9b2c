"""Background jobs of the FHIR API, run by ``ketaclinic worker``: writing a Bulk Data export,
and deleting the files of exports past their retention time (periodic, ``lib.tasks``)."""

from __future__ import annotations

from django_tasks import task

from ketaclinic.fhir import bulk
from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue


@task()
def fhir_export_run(export_pk: int) -> str:
    """Write one export's NDJSON files (``bulk.export_run``: a retried run does nothing)."""
    return bulk.export_run(export_pk)


@task()
def fhir_export_purge() -> str:
    """Delete the files of finished exports past ``FHIR_EXPORT_RETENTION_HOURS``; hourly."""
    if not periodic_continue(fhir_export_purge):
        return ALREADY_RUN
    return f"deleted the files of {bulk.export_purge()} exports"
