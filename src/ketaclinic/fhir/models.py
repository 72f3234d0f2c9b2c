"""The FHIR API's own table: which clinic an OAuth client (django-oauth-toolkit's
``Application``) belongs to, and what kind of client it is.

A client is registered for one clinic. A patient app (authorization code with PKCE, a public
client) can be authorized only by that clinic's patients, each for her own record; a backend
system (client credentials, a confidential client) reads that clinic's records and no other.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaclinic.clinics.models import Clinic


class ClientKind(models.TextChoices):
    PATIENT_APP = "patient_app", "Patient app"
    BACKEND = "backend", "Backend system"


class FhirClient(models.Model):
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="fhir_client",
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=ClientKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"FHIR client {self.pk} ({self.kind})"
