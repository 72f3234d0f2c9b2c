from django.urls import path

from ketaclinic.web import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("home/", views.home, name="home"),
    path("me/", views.my_record, name="my_record"),
    path("staff/patients/", views.staff_patients, name="staff_patients"),
    path("staff/patients/new/", views.staff_patient_new, name="staff_patient_new"),
    path(
        "staff/patients/<uuid:public_id>/", views.staff_patient_detail, name="staff_patient_detail"
    ),
    path(
        "staff/patients/<uuid:public_id>/edit/", views.staff_patient_edit, name="staff_patient_edit"
    ),
    path("clinic/", views.clinic_page, name="clinic_overview"),
    path("clinic/audit/", views.audit_events, name="audit_events"),
]
