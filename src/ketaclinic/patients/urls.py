from django.urls import path

from ketaclinic.patients import views

app_name = "patients"

urlpatterns = [
    path("staff/patients/", views.staff_patients, name="list"),
    path("staff/patients/new/", views.staff_patient_new, name="new"),
    path("staff/patients/<uuid:public_id>/", views.staff_patient_detail, name="detail"),
    path("staff/patients/<uuid:public_id>/edit/", views.staff_patient_edit, name="edit"),
]
