from django.urls import path

from ketaclinic.scheduling.views import admin, booking, desk, portal, schedule

app_name = "scheduling"

urlpatterns = [
    path("book/", booking.book_start, name="book"),
    path("book/<int:location_id>/", booking.book_slots, name="book_slots"),
    path("book/details/", booking.book_details, name="book_details"),
    path("book/confirm/", booking.book_confirm, name="book_confirm"),
    path("me/appointments/", portal.my_appointments, name="my_appointments"),
    path(
        "me/appointments/<uuid:public_id>/cancel/",
        portal.my_appointment_cancel,
        name="my_appointment_cancel",
    ),
    path(
        "me/appointments/<uuid:public_id>/reschedule/",
        portal.my_appointment_reschedule,
        name="my_appointment_reschedule",
    ),
    path(
        "me/appointments/<uuid:public_id>/waitlist/",
        portal.my_waitlist_join,
        name="my_waitlist_join",
    ),
    path("a/<str:token>/cancel/", portal.link_cancel, name="link_cancel"),
    path("a/<str:token>/reschedule/", portal.link_reschedule, name="link_reschedule"),
    path("a/<str:token>/offer/", portal.link_waitlist, name="link_waitlist"),
    path("desk/bookings/", desk.desk_bookings, name="desk_bookings"),
    path("desk/patients/<uuid:public_id>/book/", desk.desk_book, name="desk_book"),
    path("desk/appointments/<uuid:public_id>/", desk.desk_appointment, name="desk_appointment"),
    path("desk/schedule/", schedule.schedule, name="schedule"),
    path(
        "desk/schedule/appointments/<uuid:public_id>/status/",
        schedule.schedule_appointment_status,
        name="schedule_appointment_status",
    ),
    path("desk/plans/<uuid:plan_id>/series/", schedule.plan_series, name="plan_series"),
    path("desk/series/<uuid:public_id>/", schedule.series_detail, name="series_detail"),
    path("clinic/scheduling/types/", admin.admin_types, name="admin_types"),
    path("clinic/scheduling/availability/", admin.admin_availability, name="admin_availability"),
    path("clinic/scheduling/exceptions/", admin.admin_exceptions, name="admin_exceptions"),
    path("clinic/scheduling/policy/", admin.admin_policy, name="admin_policy"),
]
