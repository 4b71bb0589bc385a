from django.urls import path

from . import views

urlpatterns = [
    path("banks/<slug:slug>/desk/import/", views.import_start, name="import-start"),
    path(
        "banks/<slug:slug>/desk/import/template.xlsx",
        views.import_template,
        name="import-template",
    ),
    path("banks/<slug:slug>/desk/export/", views.bank_export, name="bank-export"),
    path("imports/<uuid:token>/", views.import_run, name="import-run"),
    path(
        "imports/<uuid:token>/reconciliation.csv",
        views.import_reconciliation,
        name="import-reconciliation",
    ),
]
