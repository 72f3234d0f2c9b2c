"""Existing clinics get policy version 1 and the shipped protocol templates."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from ketaclinic.clinical.protocols import PROTOCOL_TEMPLATES


def install(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Clinic = apps.get_model("clinics", "Clinic")
    ClinicPolicy = apps.get_model("clinics", "ClinicPolicy")
    ProtocolTemplate = apps.get_model("clinics", "ProtocolTemplate")
    for clinic in Clinic.objects.all():
        if not ClinicPolicy.objects.filter(clinic=clinic).exists():
            ClinicPolicy.objects.create(
                clinic=clinic, version=1, change_note="CLINICAL.md defaults"
            )
        if not ProtocolTemplate.objects.filter(clinic=clinic).exists():
            for d in PROTOCOL_TEMPLATES:
                ProtocolTemplate.objects.create(
                    clinic=clinic,
                    name=d.name,
                    dose_mg_per_kg=d.dose_mg_per_kg,
                    fixed_dose_mg=d.fixed_dose_mg,
                    duration_min=d.duration_min,
                    rate_cap_mg_per_h=d.rate_cap_mg_per_h,
                    sessions_count=d.sessions_count,
                    pattern=d.pattern,
                    source=d.source,
                )


class Migration(migrations.Migration):
    dependencies = [("clinics", "0002_policy_and_protocol_templates")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
