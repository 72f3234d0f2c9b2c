"""Indexes for the audit page's filters and keyset pages (audit/selectors.py).

Every index ends in (occurred_at, id), the page's order: a page, a month or "older than this
event" is a seek into one index and a walk of a hundred entries. The two old indexes (clinic,
time) and (patient, time) are replaced by the same columns with the id added, so PostgreSQL
needs no sort for ties of the same microsecond either (SQLite's indexes end in the rowid anyway).

Built CONCURRENTLY on PostgreSQL: a trail of millions of events takes minutes to index, and a
plain CREATE INDEX would block every audited request (nearly all of them) meanwhile. That needs
a migration outside a transaction (``atomic = False``); SQLite builds them the ordinary way (it
alters no table for an index, so the append-only triggers of migration 0005 stay in place).
"""

from typing import Any

from django.db import migrations, models
from django.db.migrations.operations.models import AddIndex, RemoveIndex


class AddIndexConcurrentlyOnPostgres(AddIndex):
    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)


class RemoveIndexConcurrentlyOnPostgres(RemoveIndex):
    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, index, concurrently=True)
        else:
            schema_editor.remove_index(model, index)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, index, concurrently=True)
        else:
            schema_editor.add_index(model, index)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0005_chain_existing_events_and_triggers")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="auditevent",
            index=models.Index(fields=["clinic", "-occurred_at", "-id"], name="audit_clinic_time"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="auditevent",
            index=models.Index(
                fields=["clinic", "action", "-occurred_at", "-id"], name="audit_clinic_action_time"
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="auditevent",
            index=models.Index(
                fields=["clinic", "object_type", "-occurred_at", "-id"],
                name="audit_clinic_object_time",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="auditevent",
            index=models.Index(
                fields=["clinic", "action", "object_type", "-occurred_at", "-id"],
                name="audit_clinic_act_obj_time",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="auditevent",
            index=models.Index(
                fields=["clinic", "actor", "-occurred_at", "-id"], name="audit_clinic_actor_time"
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="auditevent",
            index=models.Index(
                fields=["patient", "-occurred_at", "-id"], name="audit_patient_time"
            ),
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name="auditevent", name="audit_audit_clinic__28a758_idx"
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name="auditevent", name="audit_audit_patient_d717b2_idx"
        ),
    ]
