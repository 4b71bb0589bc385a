from django.urls import path

from . import views

urlpatterns = [
    path("banks/<slug:slug>/desk/", views.desk, name="desk"),
]
