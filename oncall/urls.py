from django.urls import path

from oncall import views

urlpatterns = [
    path("oncall/", views.oncall_page, name="oncall"),
    path("oncall/schedules/<int:schedule_id>/", views.schedule_page, name="oncall_schedule"),
    path("oncall/me/contact-methods/", views.my_contact_method_add, name="oncall_my_method_add"),
    path(
        "oncall/me/contact-methods/<int:method_id>/<str:action>/",
        views.my_contact_method_act,
        name="oncall_my_method_act",
    ),
    path("oncall/me/overrides/", views.my_override_add, name="oncall_my_override_add"),
    path("oncall/act/<str:token>/", views.act, name="oncall_act"),
    path("oncall/feeds/schedule/<str:token>.ics", views.schedule_feed, name="oncall_schedule_feed"),
    path("oncall/slack/interactive", views.slack_interactive, name="oncall_slack_interactive"),
    path("oncall/twilio/sms", views.twilio_sms, name="oncall_twilio_sms"),
    path("oncall/feeds/person/<str:token>.ics", views.person_feed, name="oncall_person_feed"),
]
