"""Progress letters' PDFs move from a column of the row to the default storage (issue 17: web
nodes keep no state, so a letter drawn by any worker is downloadable from any web node).

This migration adds the file column and writes each stored PDF to the storage; the next one drops
the old column. Two migrations, so that on PostgreSQL the rows are updated in one transaction and
the table altered in another. Reversible: the reverse reads each file back into the column.
"""

from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import migrations, models


def letter_file_name(public_id: Any) -> str:
    # The letter's random public id, as in letters.generation: no patient data in the name.
    return f"letters/{public_id}.pdf"


def pdfs_to_storage(apps: Any, schema_editor: Any) -> None:
    letter = apps.get_model("outcomes", "Letter")
    rows = letter.objects.filter(pdf__isnull=False).only("pk", "public_id", "pdf")
    for row in rows.iterator(chunk_size=50):
        name = default_storage.save(letter_file_name(row.public_id), ContentFile(bytes(row.pdf)))
        letter.objects.filter(pk=row.pk).update(pdf_file=name)


def pdfs_from_storage(apps: Any, schema_editor: Any) -> None:
    letter = apps.get_model("outcomes", "Letter")
    rows = letter.objects.exclude(pdf_file="").only("pk", "pdf_file")
    for row in rows.iterator(chunk_size=50):
        with default_storage.open(row.pdf_file.name, "rb") as handle:
            content = handle.read()
        letter.objects.filter(pk=row.pk).update(pdf=content)


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0004_results_marks")]

    operations = [
        migrations.RemoveConstraint(model_name="letter", name="letter_ready_has_pdf"),
        migrations.AddField(
            model_name="letter",
            name="pdf_file",
            field=models.FileField(blank=True, max_length=200, upload_to=""),
        ),
        migrations.RunPython(pdfs_to_storage, pdfs_from_storage),
    ]
