"""The commissioner report as JSON: read-only, the same figures as the page and downloads."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from timebank.api import NOT_FOUND

from . import commissioning, formats
from .access import get_banks_for_commissioning


class ReportQuerySerializer(serializers.Serializer):
    banks = serializers.CharField(
        max_length=500, help_text="Time bank slugs, comma-separated; combined in one report."
    )
    start = serializers.DateField(help_text="First day of the period.")
    end = serializers.DateField(help_text="Last day of the period, included.")
    low = serializers.IntegerField(
        required=False, min_value=1, help_text="Id of the low value rate (default the lowest)."
    )
    high = serializers.IntegerField(
        required=False, min_value=1, help_text="Id of the high value rate (default the highest)."
    )

    def validate_banks(self, value: str) -> list[str]:
        slugs = [slug.strip() for slug in value.split(",") if slug.strip()]
        if not slugs:
            raise serializers.ValidationError(_("Name at least one time bank."))
        return slugs


class BankSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class TableSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="snake_case, as the CSV ?table= and the XLSX sheet.")
    title = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True)),
        help_text="Cells in the order of ``columns``: counts are integers; hours, money and "
        'shares are decimal strings; dates are ISO; "suppressed" is a small number withheld; '
        "null is no value.",
    )
    note = serializers.CharField(allow_blank=True)


class DefinitionSerializer(serializers.Serializer):
    term = serializers.CharField()
    definition = serializers.CharField()


class ReportSerializer(serializers.Serializer):
    time_banks = BankSerializer(many=True)
    start = serializers.DateField()
    end = serializers.DateField()
    suppression_threshold = serializers.IntegerField()
    note = serializers.CharField()
    tables = TableSerializer(many=True)
    definitions = DefinitionSerializer(many=True)


class ReportView(APIView):
    @extend_schema(
        summary="The commissioner report for one or several time banks",
        description="Aggregates only, never a member: hours and exchanges, members, "
        "reciprocity, exchange mix, categories, co-production, equivalent value and the "
        "12-month trend, with small numbers suppressed. For the brokers and admins of each "
        "bank, its commissioners and holders of a commissioner grant in force. Every call is "
        "recorded in the download log.",
        parameters=[ReportQuerySerializer],
        responses={200: ReportSerializer, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "One table",
                value={
                    "time_banks": [{"slug": "riverside", "name": "Riverside Time Bank"}],
                    "start": "2026-01-01",
                    "end": "2026-03-31",
                    "suppression_threshold": 5,
                    "note": commissioning.NO_CASH_VALUE,
                    "tables": [
                        {
                            "name": "summary",
                            "title": "Summary",
                            "columns": ["measure", "value"],
                            "rows": [["hours_exchanged", "412.50"], ["givers", "suppressed"]],
                            "note": "",
                        }
                    ],
                    "definitions": [{"term": "exchanges", "definition": "..."}],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = ReportQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data: dict[str, Any] = query.validated_data
        banks = get_banks_for_commissioning(request.user, data["banks"])
        try:
            report = commissioning.commissioner_report(
                banks=banks,
                start=data["start"],
                end=data["end"],
                low_rate=data.get("low"),
                high_rate=data.get("high"),
            )
        except ValueError as error:
            raise ValidationError(str(error)) from None
        commissioning.record_download(
            user=request.user, banks=banks, start=report.start, end=report.end, format="json"
        )
        return Response(formats.to_json(report))
