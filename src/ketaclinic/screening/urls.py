from django.urls import path

from ketaclinic.screening import views

urlpatterns = [
    path("self-check/", views.selfcheck_start, name="selfcheck_start"),
    # Before the step pattern, so "result" is never taken for a step name.
    path("self-check/result/", views.selfcheck_result, name="selfcheck_result"),
    path("self-check/<slug:step>/", views.selfcheck_step, name="selfcheck_step"),
    path("learn/", views.learn_index, name="learn_index"),
    path("learn/<slug:slug>/", views.learn_page, name="learn_page"),
]
