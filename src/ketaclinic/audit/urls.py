from django.urls import path

from ketaclinic.audit import views

app_name = "audit"

urlpatterns = [
    path("clinic/audit/", views.audit_events, name="events"),
]
