from django.urls import URLPattern, URLResolver, path

from ketaclinic.assessments import views

app_name = "assessments"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "staff/patients/<uuid:public_id>/consultations/",
        views.consultation_list,
        name="consultation_list",
    ),
    path(
        "staff/patients/<uuid:public_id>/consultations/new/",
        views.consultation_new,
        name="consultation_new",
    ),
    path(
        "staff/consultations/<uuid:public_id>/",
        views.consultation_detail,
        name="consultation_detail",
    ),
    path(
        "staff/consultations/<uuid:public_id>/history/",
        views.consultation_history,
        name="consultation_history",
    ),
    path(
        "staff/consultations/<uuid:public_id>/exam/",
        views.consultation_exam,
        name="consultation_exam",
    ),
    path(
        "staff/consultations/<uuid:public_id>/grade/",
        views.consultation_grade,
        name="consultation_grade",
    ),
    path(
        "staff/consultations/<uuid:public_id>/sign/",
        views.consultation_sign,
        name="consultation_sign",
    ),
    path(
        "staff/consultations/<uuid:public_id>/addendum/",
        views.consultation_addendum,
        name="consultation_addendum",
    ),
]
