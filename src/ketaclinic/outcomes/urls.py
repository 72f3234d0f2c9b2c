from django.urls import path

from ketaclinic.outcomes.boosters import views as booster_views
from ketaclinic.outcomes.diary import views
from ketaclinic.outcomes.letters import views as letter_views

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
    path("staff/boosters/", booster_views.staff_boosters, name="staff_boosters"),
    path("staff/boosters/<uuid:public_id>/", booster_views.staff_booster, name="staff_booster"),
    path("me/boosters/<uuid:public_id>/", booster_views.my_booster, name="my_booster"),
    path(
        "staff/patients/<uuid:public_id>/letters/",
        letter_views.staff_patient_letters,
        name="staff_patient_letters",
    ),
    path(
        "staff/letters/<uuid:public_id>/pdf/",
        letter_views.staff_letter_pdf,
        name="staff_letter_pdf",
    ),
]
