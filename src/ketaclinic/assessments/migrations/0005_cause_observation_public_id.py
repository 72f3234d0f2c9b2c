"""A public id for every cause of pain and every exam measurement (the FHIR API's Condition and
Observation ids, never the database's own): added empty, each existing row given its own in one
statement per table (PostgreSQL's gen_random_uuid(), or on SQLite 16 random bytes as the 32 hex
digits Django stores a UUID as), then made required and unique. The pattern of
outcomes 0008_diary_entry_public_id."""

import uuid

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

TABLES = ("assessments_cause", "assessments_observation")
RANDOM = {"postgresql": "gen_random_uuid()", "sqlite": "lower(hex(randomblob(16)))"}


def give_each_its_own(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    fresh = RANDOM[schema_editor.connection.vendor]
    for table in TABLES:
        schema_editor.execute(
            f"UPDATE {table} SET public_id = {fresh} WHERE public_id IS NULL"  # noqa: S608
        )


class Migration(migrations.Migration):
    dependencies = [("assessments", "0004_history_prefill_from_selfcheck")]

    operations = [
        migrations.AddField(
            model_name="cause",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="observation",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_its_own, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="cause",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="observation",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
