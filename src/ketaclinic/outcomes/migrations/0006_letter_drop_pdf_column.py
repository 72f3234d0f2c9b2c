"""The second half of moving progress letters' PDFs to storage (0005): drop the old column and
require a stored file of every ready letter."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0005_letter_pdf_to_storage")]

    operations = [
        migrations.RemoveField(model_name="letter", name="pdf"),
        migrations.AddConstraint(
            model_name="letter",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "ready"), _negated=True),
                    models.Q(
                        models.Q(("pdf_file", ""), _negated=True), ("ready_at__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="letter_ready_has_pdf_file",
            ),
        ),
    ]
