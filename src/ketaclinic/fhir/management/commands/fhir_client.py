"""Register, list and revoke the FHIR API's OAuth clients of a clinic.

    ketaclinic fhir_client add --clinic SLUG --name "Registry export" --kind backend
    ketaclinic fhir_client add --clinic SLUG --name "Pain diary app" --kind patient_app \\
        --redirect-uri https://app.example/callback
    ketaclinic fhir_client list --clinic SLUG
    ketaclinic fhir_client revoke CLIENT_ID

A backend system's secret is printed once; only its hash is kept. Revoking removes the client
and every token it holds. Each registration and revocation is audited as the server's act.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Clinic
from ketaclinic.fhir.models import ClientKind, FhirClient
from ketaclinic.fhir.services import ClientError, fhir_client_register, fhir_client_revoke


class Command(BaseCommand):
    help = "Register, list or revoke a clinic's FHIR API clients (SMART on FHIR)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="register a client")
        add.add_argument("--clinic", required=True, help="the clinic's slug")
        add.add_argument("--name", required=True)
        add.add_argument("--kind", required=True, choices=ClientKind.values)
        add.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        listing = actions.add_parser("list", help="the clinic's clients")
        listing.add_argument("--clinic", required=True, help="the clinic's slug")
        revoke = actions.add_parser("revoke", help="remove a client and its tokens")
        revoke.add_argument("client_id")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor(user=None)
        if options["action"] == "revoke":
            client = (
                FhirClient.objects.select_related("application", "clinic")
                .filter(application__client_id=options["client_id"])
                .first()
            )
            if client is None:
                raise CommandError("No FHIR client has that client id.")
            tokens = fhir_client_revoke(actor=actor, client=client)
            self.stdout.write(f"Revoked {options['client_id']} and {tokens} token(s).")
            return
        clinic = Clinic.objects.filter(slug=options["clinic"]).first()
        if clinic is None:
            raise CommandError(f"--clinic: no clinic has the slug {options['clinic']!r}.")
        if options["action"] == "list":
            clients = FhirClient.objects.filter(clinic=clinic).select_related("application")
            for client in clients.order_by("created_at"):
                app = client.application
                self.stdout.write(f"{app.client_id}\t{client.kind}\t{app.name}")
            return
        try:
            client, secret = fhir_client_register(
                actor=actor,
                clinic=clinic,
                name=options["name"],
                kind=options["kind"],
                redirect_uris=options["redirect_uris"],
            )
        except ClientError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"client_id: {client.application.client_id}")
        if secret:
            self.stdout.write(f"client_secret: {secret}  (shown once: keep it safe)")
