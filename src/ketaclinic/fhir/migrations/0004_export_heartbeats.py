# When an export's jobs last said they were alive: an export whose worker died fails (fhir/bulk.py).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fhir", "0003_export_pieces"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkexport",
            name="touched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="bulkexportfile",
            name="touched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
