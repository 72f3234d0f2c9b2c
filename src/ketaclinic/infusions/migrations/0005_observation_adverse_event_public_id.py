"""A public id for every charted observation and adverse event (the FHIR API's Observation and
AdverseEvent ids, never the database's own): added empty, each existing row given its own in one
statement per table (a chain's chart holds millions of observations: PostgreSQL's
gen_random_uuid(), or on SQLite 16 random bytes as the 32 hex digits Django stores a UUID as),
then made required and unique."""

import uuid

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

FILL = {
    "postgresql": (
        "UPDATE infusions_observation SET public_id = gen_random_uuid() WHERE public_id IS NULL",
        "UPDATE infusions_adverseevent SET public_id = gen_random_uuid() WHERE public_id IS NULL",
    ),
    "sqlite": (
        "UPDATE infusions_observation SET public_id = lower(hex(randomblob(16))) "
        "WHERE public_id IS NULL",
        "UPDATE infusions_adverseevent SET public_id = lower(hex(randomblob(16))) "
        "WHERE public_id IS NULL",
    ),
}


def give_each_its_own(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    for statement in FILL[schema_editor.connection.vendor]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("infusions", "0004_arrival_time_reason")]

    operations = [
        migrations.AddField(
            model_name="observation",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="adverseevent",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_its_own, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="observation",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="adverseevent",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
