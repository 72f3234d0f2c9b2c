# A large table's export is written as several files, each its own job (fhir/bulk.py).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fhir", "0002_bulk_exports"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="bulkexportfile",
            options={"ordering": ["export", "resource_type", "part", "pk_after"]},
        ),
        migrations.AddField(
            model_name="bulkexportfile",
            name="part",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkexportfile",
            name="pk_after",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkexportfile",
            name="pk_last",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        # The files of exports from before this migration were all written: "done" for them,
        # then "queued" for new ones.
        migrations.AddField(
            model_name="bulkexportfile",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Waiting for a worker"),
                    ("writing", "Being written"),
                    ("done", "Written"),
                ],
                default="done",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="bulkexportfile",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Waiting for a worker"),
                    ("writing", "Being written"),
                    ("done", "Written"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="bulkexportfile",
            name="count",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="bulkexportfile",
            name="name",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AlterField(
            model_name="bulkexportfile",
            name="size",
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
