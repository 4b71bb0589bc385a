from django.urls import path

from . import views

urlpatterns = [
    path("banks/<slug:slug>/desk/reports/", views.report_list, name="report-list"),
    path("banks/<slug:slug>/desk/reports/<str:month>/", views.report_detail, name="report-detail"),
    path("banks/<slug:slug>/desk/reports/<str:month>/csv/", views.report_csv, name="report-csv"),
    path(
        "banks/<slug:slug>/commissioner-report/",
        views.commissioner_report,
        name="commissioner-report",
    ),
    path(
        "banks/<slug:slug>/commissioner-report/csv/",
        views.commissioner_csv,
        name="commissioner-report-csv",
    ),
    path(
        "banks/<slug:slug>/commissioner-report/xlsx/",
        views.commissioner_xlsx,
        name="commissioner-report-xlsx",
    ),
    path(
        "banks/<slug:slug>/commissioner-report/pdf/",
        views.commissioner_pdf,
        name="commissioner-report-pdf",
    ),
    path(
        "commissioner-reports/<uuid:token>/",
        views.commissioner_export,
        name="commissioner-export",
    ),
    path("banks/<slug:slug>/statements/", views.statement_list, name="member-statements"),
    path(
        "banks/<slug:slug>/statements/<str:month>/",
        views.statement_detail,
        name="member-statement",
    ),
]
