"""A public id for every appointment type (the FHIR API names a free slot's service type by it,
never by the database's id): added empty, each existing type given its own in one statement
(PostgreSQL's gen_random_uuid(), or on SQLite 16 random bytes as the 32 hex digits Django stores
a UUID as), then made required and unique."""

import uuid

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

FILL = {
    "postgresql": "UPDATE scheduling_appointmenttype SET public_id = gen_random_uuid() "
    "WHERE public_id IS NULL",
    "sqlite": "UPDATE scheduling_appointmenttype SET public_id = lower(hex(randomblob(16))) "
    "WHERE public_id IS NULL",
}


def give_each_its_own(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute(FILL[schema_editor.connection.vendor])


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0006_pending_signup")]

    operations = [
        migrations.AddField(
            model_name="appointmenttype",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_its_own, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="appointmenttype",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
