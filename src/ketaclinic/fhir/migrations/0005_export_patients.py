# The patients a Group export audited: its files hold exactly these (fhir/bulk.py).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fhir", "0004_export_heartbeats"),
        ("patients", "0002_patient_search_by_phone_and_birth_date"),
    ]

    operations = [
        migrations.CreateModel(
            name="BulkExportPatient",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "export",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="fhir.bulkexport",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("export", "patient"), name="fhir_export_patient_once"
                    )
                ],
            },
        ),
    ]
