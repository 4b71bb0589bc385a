"""One place where domain exceptions become HTTP responses for the API, and where the schema
says so: every operation documents the errors this handler and DRF can give it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledger.exceptions import LedgerError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data = {
                field: [message for error in errors for message in error.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            data = {"detail": " ".join(exc.messages)}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, LedgerError):
        return Response(
            {"detail": str(exc), "code": type(exc).__name__},
            status=getattr(exc, "http_status", 409),
        )
    return drf_exception_handler(exc, context)


# Refuses fields it does not know, naming each one, so a typo never passes silently. The
# schema says so (``additionalProperties: false``) and adds ``schema_rules``: JSON Schema
# keywords for what the fields cannot say alone (e.g. hours or minutes, one of them). A comment,
# not a docstring: the schema would show a docstring on every serializer without its own.
class StrictSerializer(serializers.Serializer):
    schema_rules: ClassVar[dict[str, Any]] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field is not recognised.")] for name in unknown}
                )
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="For 409: the kind of conflict.")


BAD_INPUT = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Bad input, or refused by a rule: a list of messages for each field at fault "
    '(or ``{"detail": ...}``).',
)
REFUSED = OpenApiResponse(
    ErrorSerializer, description="Not signed in, or not yours to do (``detail`` says which)."
)
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found, or not yours to see.")
# DRF's paginator answers a page past the end with 404; the page number is not a filter.
PAGE = "page"


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error responses each operation can give, unless the
    view declares them itself (with examples):

    - 403 when the view needs a signed-in caller (the session is tried first, so DRF answers
      a missing or bad token with 403, not 401) or when a service refuses;
    - 404 when the path names an object, or the list is paginated;
    - 400 on every write (bad input, or a rule refused it) and on reads with filters.
    """

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
            schema.update(serializer.schema_rules)
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        errors: dict[str, OpenApiResponse] = {}
        is_write = self.method not in ("GET", "HEAD", "OPTIONS")
        if is_write or any(p["in"] != "path" and p["name"] != PAGE for p in parameters):
            errors["400"] = BAD_INPUT
        if not all(issubclass(p, AllowAny) for p in self.view.permission_classes):
            errors["403"] = REFUSED
        if any(p["in"] == "path" or p["name"] == PAGE for p in parameters):
            errors["404"] = NOT_FOUND
        responses = operation.setdefault("responses", {})
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)
        return operation
