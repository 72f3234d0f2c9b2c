"""Running a Bulk Data export's jobs in a test, as the workers do."""

from __future__ import annotations

from ketaclinic.fhir.models import BulkExportFile, PieceStatus
from ketaclinic.fhir.tasks import fhir_export_piece, fhir_export_run


def run_export(export_pk: int) -> list[str]:
    """The export's job, then the job of each file it planned, in the order they were enqueued;
    what each answered. (The enqueueing itself runs through the real worker in
    ``test_independent_clients``.)"""
    said = [fhir_export_run.call(export_pk)]
    waiting = BulkExportFile.objects.filter(export_id=export_pk, status=PieceStatus.QUEUED)
    for pk in waiting.order_by("pk").values_list("pk", flat=True):
        said.append(fhir_export_piece.call(pk))
    return said
