from django.urls import path

from ketaclinic.scheduling import schedule_views, views

app_name = "scheduling"

urlpatterns = [
    path("book/", views.book_start, name="book"),
    path("book/<int:location_id>/", views.book_slots, name="book_slots"),
    path("book/details/", views.book_details, name="book_details"),
    path("book/confirm/", views.book_confirm, name="book_confirm"),
    path("me/appointments/", views.my_appointments, name="my_appointments"),
    path(
        "me/appointments/<uuid:public_id>/cancel/",
        views.my_appointment_cancel,
        name="my_appointment_cancel",
    ),
    path(
        "me/appointments/<uuid:public_id>/reschedule/",
        views.my_appointment_reschedule,
        name="my_appointment_reschedule",
    ),
    path(
        "me/appointments/<uuid:public_id>/waitlist/",
        views.my_waitlist_join,
        name="my_waitlist_join",
    ),
    path("a/<str:token>/cancel/", views.link_cancel, name="link_cancel"),
    path("a/<str:token>/reschedule/", views.link_reschedule, name="link_reschedule"),
    path("a/<str:token>/offer/", views.link_waitlist, name="link_waitlist"),
    path("desk/bookings/", views.desk_bookings, name="desk_bookings"),
    path("desk/patients/<uuid:public_id>/book/", views.desk_book, name="desk_book"),
    path("desk/appointments/<uuid:public_id>/", views.desk_appointment, name="desk_appointment"),
    path("desk/schedule/", schedule_views.schedule, name="schedule"),
    path(
        "desk/schedule/appointments/<uuid:public_id>/status/",
        schedule_views.schedule_appointment_status,
        name="schedule_appointment_status",
    ),
    path("desk/plans/<uuid:plan_id>/series/", schedule_views.plan_series, name="plan_series"),
    path("desk/series/<uuid:public_id>/", schedule_views.series_detail, name="series_detail"),
    path("clinic/scheduling/types/", views.admin_types, name="admin_types"),
    path("clinic/scheduling/availability/", views.admin_availability, name="admin_availability"),
    path("clinic/scheduling/exceptions/", views.admin_exceptions, name="admin_exceptions"),
    path("clinic/scheduling/policy/", views.admin_policy, name="admin_policy"),
]
