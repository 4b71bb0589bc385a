from django.urls import path

from . import views

urlpatterns = [
    path("banks/<slug:slug>/audit/", views.audit_log, name="audit-log"),
]
