from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from oauth2_provider import views as oauth_views

from ketaclinic.fhir import admin_views, binary, bulk_views, patient_views, views
from ketaclinic.fhir.oauth import SmartAuthorizationView

app_name = "fhir"

urlpatterns = [
    path("fhir/R4/", views.unknown, name="base"),
    path("fhir/R4/metadata", views.metadata, name="metadata"),
    path(
        "fhir/R4/.well-known/smart-configuration",
        views.smart_configuration,
        name="smart_configuration",
    ),
    # Bulk Data export (the IG's addresses, before the types' own which would take them).
    path("fhir/R4/$export", bulk_views.export_system, name="export"),
    path("fhir/R4/Patient/$export", bulk_views.export_patients, name="export_patients"),
    path("fhir/R4/Group/<str:group_id>/$export", bulk_views.export_group, name="export_group"),
    path("fhir/R4/bulk-status/<uuid:export_id>", bulk_views.export_status, name="export_status"),
    path("fhir/R4/bulk-files/<uuid:file_id>", bulk_views.export_file, name="export_file"),
    # GET searches; POST creates (a QuestionnaireResponse for the pain diary only).
    path("fhir/R4/<str:type_name>", views.search_or_create, name="search"),
    path("fhir/R4/<str:type_name>/_search", views.search_post, name="search_post"),
    # A letter's PDF: read only, before the types' read which would take the address.
    path("fhir/R4/Binary/<str:resource_id>", binary.binary_read, name="binary"),
    path("fhir/R4/<str:type_name>/<str:resource_id>", views.read, name="read"),
    re_path(r"^fhir/R4/(?P<rest>.+)$", views.unknown, name="unknown"),
    # The clinic admin registers and revokes the programs that may read the API.
    path("clinic/api-clients/", admin_views.clients, name="clients"),
    path(
        "clinic/api-clients/<int:client_id>/revoke/",
        admin_views.client_revoke,
        name="client_revoke",
    ),
    # The patient's connected apps: what each may read, and disconnecting one.
    path("me/apps/", patient_views.my_apps, name="my_apps"),
    path(
        "me/apps/<int:client_id>/disconnect/",
        patient_views.my_app_disconnect,
        name="my_app_disconnect",
    ),
    # The authorization server: the patient signs in to authorize an app (the page needs her
    # session); programs call the token and revocation endpoints with their own credentials.
    # DOT's application and token management pages are not served: clients are registered for
    # a clinic by its admin (``ketaclinic fhir_client``).
    path("oauth/authorize/", SmartAuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", login_not_required(oauth_views.TokenView.as_view()), name="token"),
    path(
        "oauth/revoke/",
        login_not_required(oauth_views.RevokeTokenView.as_view()),
        name="revoke",
    ),
]
