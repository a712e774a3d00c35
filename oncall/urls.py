from django.urls import path

from oncall import views

urlpatterns = [
    path("oncall/act/<str:token>/", views.act, name="oncall_act"),
]
