"""No two active appointments may overlap on one infusion chair (recovery included), in the database.

The twin of 0002 for chairs. PostgreSQL: an exclusion constraint over (chair, [start, block_end))
for every status but cancelled (btree_gist, installed by 0002, gives the equality part).
Appointments without a chair are outside it. SQLite: triggers refuse an overlapping INSERT or
UPDATE; with IMMEDIATE transactions writers are serialized, so the trigger sees every committed
row.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE scheduling_appointment ADD CONSTRAINT appointment_chair_no_overlap
    EXCLUDE USING gist (chair_id WITH =, tstzrange(start, block_end, '[)') WITH &&)
    WHERE (status <> 'cancelled' AND chair_id IS NOT NULL)
    """,
]
PG_REVERSE = [
    "ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appointment_chair_no_overlap"
]

_SQLITE_CHECK = """
    WHEN NEW.chair_id IS NOT NULL AND NEW.status <> 'cancelled' AND EXISTS (
        SELECT 1 FROM scheduling_appointment a
        WHERE a.chair_id = NEW.chair_id AND a.id IS NOT NEW.id AND a.status <> 'cancelled'
          AND a.start < NEW.block_end AND NEW.start < a.block_end
    )
    BEGIN SELECT RAISE(ABORT, 'appointment_chair_no_overlap: the chair is already booked'); END
"""
SQLITE_FORWARD = [
    "CREATE TRIGGER appointment_chair_no_overlap_insert BEFORE INSERT ON scheduling_appointment"
    + _SQLITE_CHECK,
    "CREATE TRIGGER appointment_chair_no_overlap_update BEFORE UPDATE ON scheduling_appointment"
    + _SQLITE_CHECK,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS appointment_chair_no_overlap_insert",
    "DROP TRIGGER IF EXISTS appointment_chair_no_overlap_update",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0003_induction_series")]
    operations = [migrations.RunPython(forward, reverse)]
