from django.urls import path, re_path

from ketaclinic.fhir import views

app_name = "fhir"

urlpatterns = [
    path("fhir/R4/", views.unknown, name="base"),
    path("fhir/R4/metadata", views.metadata, name="metadata"),
    path("fhir/R4/<str:type_name>", views.search, name="search"),
    path("fhir/R4/<str:type_name>/<str:resource_id>", views.read, name="read"),
    re_path(r"^fhir/R4/(?P<rest>.+)$", views.unknown, name="unknown"),
]
