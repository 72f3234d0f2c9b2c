from django.urls import path

from ketaclinic.infusions.views import actions, board, chart

app_name = "infusions"

urlpatterns = [
    path("infusions/board/", board.board_home, name="board_home"),
    path("infusions/board/<int:location_id>/", board.board, name="board"),
    path("infusions/board/<int:location_id>/live/", board.board_live, name="board_live"),
    path("infusions/appointments/<uuid:public_id>/arrive/", board.arrive, name="arrive"),
    path("infusions/sessions/<uuid:public_id>/", chart.session_detail, name="session"),
    path(
        "infusions/sessions/<uuid:public_id>/<slug:action>/",
        actions.session_action,
        name="session_action",
    ),
    path(
        "infusions/patients/<uuid:public_id>/sessions/",
        chart.patient_sessions,
        name="patient_sessions",
    ),
]
