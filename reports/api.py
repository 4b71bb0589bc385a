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


class WhySerializer(serializers.Serializer):
    row = serializers.JSONField(help_text="The first cell of the row.")
    column = serializers.CharField()
    reason = serializers.CharField(
        allow_blank=True,
        help_text="small (a count under the threshold), reveals (withheld so a small count "
        "cannot be worked out), few_behind (worked out from a small count), small_change, "
        "no_new_members, none_exchanged_yet, no_one_active, not_dated, no_source, no_data.",
    )


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
    why = WhySerializer(
        many=True, help_text="Why each withheld or empty cell is so, in the order of the rows."
    )


class DefinitionSerializer(serializers.Serializer):
    term = serializers.CharField(help_text="snake_case: a measure, a column or a table.")
    # A field named like Field.label: DRF takes declared fields off the class, the stubs can't.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="The term in plain words, as the page shows it."
    )
    definition = serializers.CharField()


class ReportSerializer(serializers.Serializer):
    time_banks = BankSerializer(many=True)
    start = serializers.DateField()
    end = serializers.DateField()
    suppression_threshold = serializers.IntegerField()
    note = serializers.CharField()
    headline = serializers.ListField(
        child=serializers.CharField(), help_text="The headline sentences, as the page has them."
    )
    tables = TableSerializer(many=True)
    definitions = DefinitionSerializer(many=True)


class ReportView(APIView):
    @extend_schema(
        summary="The commissioner report for one or several time banks",
        description="Aggregates only, never a member: hours and exchanges, members, "
        "reciprocity, exchange mix, categories, co-production, equivalent value, the "
        "12-month trend and the comparisons with the period before and a year before (with "
        "each bank's figures when banks are combined), with small numbers suppressed. For the brokers and admins of each "
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
                    "headline": [
                        "From January to March 2026, 40 members of Riverside Time Bank "
                        "exchanged 412.5 hours of help in 230 exchanges."
                    ],
                    "tables": [
                        {
                            "name": "summary",
                            "title": "Summary",
                            "columns": ["measure", "value"],
                            "rows": [["hours_exchanged", "412.50"], ["givers", "suppressed"]],
                            "note": "",
                            "why": [{"row": "givers", "column": "value", "reason": "small"}],
                        }
                    ],
                    "definitions": [
                        {"term": "exchanges", "label": "Exchanges", "definition": "..."}
                    ],
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
