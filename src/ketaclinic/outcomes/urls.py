from django.urls import path

from ketaclinic.outcomes import views

app_name = "outcomes"

urlpatterns = [
    path("me/diary/", views.my_diary, name="my_diary"),
    path("me/diary/record/<str:instrument>/", views.my_diary_record, name="my_diary_record"),
    path("me/diary/reminders/", views.my_diary_reminders, name="my_diary_reminders"),
    path("d/<str:token>/", views.diary_link, name="diary_link"),
    path(
        "staff/patients/<uuid:public_id>/diary/",
        views.staff_patient_diary,
        name="staff_patient_diary",
    ),
]
