"""One place where domain exceptions become HTTP responses for the API, and where the schema
says so: every operation documents the errors this handler and DRF can give it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# Ids in API paths: digits, at most 18 (a bigint). Anything else matches no URL, so it is a 404
# (JSON, see ``timebank.urls``) before any view reads it.
ID_PATTERN = r"[0-9]{1,18}"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    # A domain refusal says its own HTTP status (``http_status``: the ledger's and exchanges'
    # errors, 409; a rate limit, 429 with ``retry_after``). Read by duck typing, so this
    # module imports no app and sits below all of them (CONTRIBUTING.md).
    http_status = getattr(exc, "http_status", None)
    if http_status is not None:
        messages = getattr(exc, "messages", None)
        refusal = {
            "detail": " ".join(messages) if messages is not None else str(exc),
            "code": type(exc).__name__,
        }
        # An exchange already decided says what it is now.
        if state := getattr(exc, "exchange_state", None):
            refusal["state"] = state
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return Response(refusal, status=http_status, headers=headers)
    if isinstance(exc, DjangoValidationError):
        data: dict[str, Any]
        if hasattr(exc, "error_dict"):
            data = {
                field: [message for error in errors for message in error.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            data = {"detail": " ".join(exc.messages)}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def _json_type(field: serializers.Field) -> type | tuple[type, ...] | None:
    """The JSON type the schema gives ``field``, as Python types; None: the field checks."""
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        return list
    if isinstance(field, serializers.BooleanField):
        return bool
    if isinstance(field, serializers.IntegerField):
        return int
    if isinstance(
        field,
        serializers.CharField
        | serializers.ChoiceField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.RelatedField,
    ):
        return str
    return None


def _wrong_type(field: serializers.Field, value: Any) -> bool:
    expected = _json_type(field)
    if expected is None or value is None:
        return False
    if expected is int:
        # A whole number sent as 2.0 is still the integer 2; true and false are not numbers.
        whole = isinstance(value, float) and value.is_integer()
        return isinstance(value, bool) or not (isinstance(value, int) or whole)
    return not isinstance(value, expected)


# Refuses fields it does not know, naming each one, so a typo never passes silently; in a JSON
# body, refuses a value of another type than the schema gives (DRF alone would read 5 as "5",
# "5" as 5 and "yes" as true). The schema says so (``additionalProperties: false``) and adds
# ``schema_rules``: JSON Schema keywords for what the fields cannot say alone (e.g. hours or
# minutes, one of them). In a query string (``from_query_string``) only unknown names are
# refused. A comment, not a docstring: the schema would show a docstring on every serializer
# without its own.
class StrictSerializer(serializers.Serializer):
    schema_rules: ClassVar[dict[str, Any]] = {}
    # Query strings are text by nature: their values are read from text, not type-checked.
    from_query_string: ClassVar[bool] = False

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field is not recognised.")] for name in unknown}
                )
            if not isinstance(data, QueryDict) and not self.from_query_string:
                wrong = [
                    name
                    for name, field in self.fields.items()
                    if name in data and not field.read_only and _wrong_type(field, data[name])
                ]
                if wrong:
                    raise serializers.ValidationError(
                        {name: [_("This is not the type of value it takes.")] for name in wrong}
                    )
        return super().to_internal_value(data)


class SlugRelatedField(serializers.SlugRelatedField):
    """A row named by its slug. A value that cannot be a slug (a NUL byte, which PostgreSQL
    cannot even compare with; too long; other characters) names no row: the field says so,
    the same on every database."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and not _SLUG.fullmatch(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")


class NoBodySerializer(StrictSerializer):
    """No fields: any field sent is refused."""


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="For 409: the kind of conflict.")
    state = serializers.CharField(
        required=False, help_text="For 409 AlreadyDecided: what the exchange is now."
    )


BAD_INPUT = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Bad input, or refused by a rule: a list of messages for each field at fault "
    '(or ``{"detail": ...}``).',
)
REFUSED = OpenApiResponse(
    ErrorSerializer, description="Not signed in, or not yours to do (``detail`` says which)."
)
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found, or not yours to see.")
RATE_LIMITED = OpenApiResponse(
    ErrorSerializer,
    description="Too many in the last hour (each sends someone an email): try again after "
    "``Retry-After`` seconds.",
)
NOT_ACCEPTABLE = OpenApiResponse(
    ErrorSerializer, description="The Accept header names no type the API answers (JSON)."
)
UNSUPPORTED = OpenApiResponse(ErrorSerializer, description="The body is not JSON.")
UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description="The database is briefly unavailable (a restart): try again after "
    "``Retry-After`` seconds. A retry with the same ``Idempotency-Key`` is safe.",
)
# DRF's paginator answers a page past the end with 404; the page number is not a filter.
PAGE = "page"


NOT_ONLY_SPACES = (
    r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def _say_what_drf_checks(field: serializers.Field, schema: dict[str, Any]) -> None:
    """What DRF checks of a request field and drf-spectacular leaves out of its schema."""
    # How many items a nested list takes.
    if isinstance(field, serializers.ListSerializer):
        # DRF keeps these on the field since 3.14; its stubs leave them out.
        min_length: int | None = getattr(field, "min_length", None)
        max_length: int | None = getattr(field, "max_length", None)
        if min_length is not None or not field.allow_empty:
            schema["minItems"] = max(min_length or 0, 0 if field.allow_empty else 1)
        if max_length is not None:
            schema["maxItems"] = max_length
    # DRF trims text and refuses what is left blank: some character must not be a space, as
    # Python's ``str.strip`` counts spaces (the file and group separators \x1c-\x1f too, which
    # a JSON Schema ``\S`` would let through).
    if (
        isinstance(field, serializers.CharField)
        and field.trim_whitespace
        and not field.allow_blank
        and schema.get("type") == "string"
        and not {"pattern", "format", "enum"} & set(schema)
    ):
        schema["pattern"] = NOT_ONLY_SPACES


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error responses each operation can give, unless the
    view declares them itself (with examples):

    - 403 when the view needs a signed-in caller (the session is tried first, so DRF answers
      a missing or bad token with 403, not 401) or when a service refuses;
    - 404 when the path names an object, or the list is paginated;
    - 400 on every write (bad input, or a rule refused it) and on reads with filters;
    - 406 on every operation and 415 on every one with a body: the API speaks JSON only;
    - 503 on every operation: the database is briefly unavailable (``timebank.urls``).
    """

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
            schema.update(serializer.schema_rules)
            for name, field in serializer.fields.items():
                if name in schema.get("properties", {}):
                    _say_what_drf_checks(field, schema["properties"][name])
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
        if not all(
            isinstance(p, type) and issubclass(p, AllowAny) for p in self.view.permission_classes
        ):
            errors["403"] = REFUSED
        if any(p["in"] == "path" or p["name"] == PAGE for p in parameters):
            errors["404"] = NOT_FOUND
        errors["406"] = NOT_ACCEPTABLE
        if "requestBody" in operation:
            errors["415"] = UNSUPPORTED
        errors["503"] = UNAVAILABLE
        responses = operation.setdefault("responses", {})
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)
        return operation


# --- Links: what a client can do next with what a response names ---------------------------------

# (operation, status) -> {link name: (operation it leads to, its parameters)}. The id of what
# a write made or decided, or of the first row of a list, is the next operation's path id.
_THIS = "$response.body#/id"
_FIRST = "$response.body#/results/0/id"
_EXCHANGE_NEXT = {
    "GetExchange": "exchanges_retrieve",
    "ConfirmExchange": "exchanges_confirm_create",
    "ApproveExchange": "exchanges_approve_create",
    "DeclineExchange": "exchanges_decline_create",
    "ReverseExchange": "exchanges_reverse_create",
}
_LISTING_NEXT = {
    "GetListing": "listings_retrieve",
    "UpdateListing": "listings_update",
    "ChangeListing": "listings_partial_update",
    "CloseListing": "listings_close_create",
    "RenewListing": "listings_renew_create",
    "ReplyToListing": "listings_reply_create",
}
_APPLICATION_NEXT = {
    "GetApplication": "applications_retrieve",
    "ApproveApplication": "applications_approve_create",
    "DeclineApplication": "applications_decline_create",
}


def _to(targets: dict[str, str], id_from: str) -> dict[str, tuple[str, dict[str, str]]]:
    return {name: (operation, {"path.id": id_from}) for name, operation in targets.items()}


LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {
    **{
        (operation, status): _to(_EXCHANGE_NEXT, _THIS)
        for operation, status in [
            ("exchanges_create", "201"),
            ("exchanges_group_create", "201"),
            ("donations_create", "201"),
            ("grants_create", "201"),
            ("exchanges_retrieve", "200"),
            ("exchanges_confirm_create", "200"),
            ("exchanges_approve_create", "200"),
            ("exchanges_decline_create", "200"),
            ("exchanges_reverse_create", "200"),
        ]
    },
    ("exchanges_list", "200"): _to(_EXCHANGE_NEXT, _FIRST),
    **{
        (operation, status): _to(_LISTING_NEXT, _THIS)
        for operation, status in [
            ("listings_create", "201"),
            ("listings_retrieve", "200"),
            ("listings_update", "200"),
            ("listings_partial_update", "200"),
            ("listings_close_create", "200"),
            ("listings_renew_create", "200"),
        ]
    },
    ("listings_list", "200"): _to(_LISTING_NEXT, _FIRST),
    ("applications_list", "200"): _to(_APPLICATION_NEXT, _FIRST),
    ("applications_retrieve", "200"): _to(_APPLICATION_NEXT, _THIS),
    ("balances_list", "200"): {
        "GetStatement": ("statement_retrieve", {"query.account": "$response.body#/0/account"})
    },
}


def add_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the OpenAPI ``links`` of ``LINKS`` to the
    responses they start from, so a reader (and a stateful test) can follow one operation to
    the next."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict):
                continue
            for status_code, response in operation.get("responses", {}).items():
                links = LINKS.get((operation.get("operationId", ""), status_code))
                if links:
                    response["links"] = {
                        name: {"operationId": target, "parameters": parameters}
                        for name, (target, parameters) in links.items()
                    }
    return result
