from django.urls import path

from ketaclinic.infusions import views

app_name = "infusions"

urlpatterns = [
    path("infusions/board/", views.board_home, name="board_home"),
    path("infusions/board/<int:location_id>/", views.board, name="board"),
    path("infusions/board/<int:location_id>/live/", views.board_live, name="board_live"),
    path("infusions/appointments/<uuid:public_id>/arrive/", views.arrive, name="arrive"),
    path("infusions/sessions/<uuid:public_id>/", views.session_detail, name="session"),
    path(
        "infusions/sessions/<uuid:public_id>/<slug:action>/",
        views.session_action,
        name="session_action",
    ),
    path(
        "infusions/patients/<uuid:public_id>/sessions/",
        views.patient_sessions,
        name="patient_sessions",
    ),
]
