"""The API's pages (its own module: DRF reads it while its generic views are being defined)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's pages, read as the schema writes them: a page number is a whole number from 1
    (DRF alone reads ``?page=`` as the first page and ``?page=last`` as the last). Anything
    else, or a page past the end, names no page: 404, as the schema says for every list."""

    def get_page_number(self, request: Request, paginator: Paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < 1:
            raise NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
