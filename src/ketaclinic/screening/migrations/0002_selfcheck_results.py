"""A row, and a public id, for each instrument a self-check scored: the FHIR API serves each as a
QuestionnaireResponse. Existing self-checks get theirs here, one per instrument in their
stored scores."""

import uuid

import django.db.models.deletion
from django.db import migrations, models

FILL_BATCH = 2000


def fill(apps, schema_editor):
    SelfCheck = apps.get_model("screening", "SelfCheck")
    SelfCheckResult = apps.get_model("screening", "SelfCheckResult")
    last = 0
    while True:
        batch = list(
            SelfCheck.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "scores")[:FILL_BATCH]
        )
        if not batch:
            return
        SelfCheckResult.objects.bulk_create(
            SelfCheckResult(selfcheck_id=pk, instrument=code)
            for pk, scores in batch
            for code in sorted(scores)
        )
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SelfCheckResult",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("instrument", models.CharField(max_length=20)),
                (
                    "selfcheck",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="results",
                        to="screening.selfcheck",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("selfcheck", "instrument"),
                        name="selfcheck_result_one_per_instrument",
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
