"""The exchanges API: record, confirm, approve, decline and reverse exchanges; group exchanges,
donations and grants; balances and statements. Boring on purpose: validate, call a service,
render.

Who may do what is decided by the services and the access functions, never here:
- an exchange the caller may not see (another time bank, not a party, a commissioner) is 404;
- one they can see but may not act on (approving their own) is 403;
- recording in a time bank where the caller does not trade (an applicant, a commissioner,
  a broker of another bank) is 403;
- an account, listing or category named in a request body that is not in the time bank is a
  400 on that field (body references are input, not objects the caller asked to open).

POST endpoints that record or decide take an ``Idempotency-Key`` header. It is passed on to
the service, which keeps it in the caller's own namespace (as it does the web forms' keys), so
that two callers' keys never collide: a retry with the same key and body answers as the first
request did and moves nothing again, whatever changed since (the date, the bank's policy); the
same key with another body is a 409. Deciding an exchange that is already decided is a 409 that
says what it is now (``state``), whoever asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import services as ledger
from ledger.models import Account, AccountKind, Entry, format_hours
from listings.access import get_listing_for
from listings.models import Category
from members.access import get_bank_for_member, person_for
from members.models import Person, TimeBank
from timebank.api import (
    ID_PATTERN,
    RATE_LIMITED,
    ErrorSerializer,
    NoBodySerializer,
    SlugRelatedField,
    StrictSerializer,
)

from . import services
from .access import get_account_for, get_exchange_for
from .models import CoProduction, Exchange, Kind, State

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 64
# Visible ASCII: what survives every HTTP hop unchanged (no spaces, no control characters).
IDEMPOTENCY_KEY = re.compile(rf"[!-~]{{1,{IDEMPOTENCY_KEY_MAX}}}")


# --- Input ---------------------------------------------------------------------------------------


def _inline_enum(field: serializers.Field, values: list[str]) -> serializers.Field:
    """Document ``field`` as an inline enum. Several components have a ``kind``, ``state`` or
    ``role`` with other choices; inline, their names cannot collide in the schema."""
    # What @extend_schema_field does to a field class, done to this one field.
    set_override(field, "field", {"type": "string", "enum": values})
    return field


# Hours written as text: a positive number of quarter hours under 100,000 ("1.5", "0.25").
HOURS_TEXT = r"^(0*[1-9][0-9]{0,4}(\.(0|00|25|5|50|75))?|0*\.(25|5|50|75))$"


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": HOURS_TEXT, "example": "1.5"},
            {
                "type": "number",
                "minimum": 0.25,
                "maximum": 99999.75,
                "multipleOf": 0.25,
                "example": 1.5,
            },
        ],
        "description": "Hours in quarter-hour steps: 0.25, 0.5, 1, 1.75 ...",
    }
)
class HoursField(serializers.Field):
    """Hours as a decimal (string or number) in quarter hours, read as whole minutes, exactly."""

    default_error_messages = {
        "invalid": gettext_lazy("Give the hours as a number, for example 1.5."),
        "positive": gettext_lazy("Give the hours as a positive number, in quarter hours."),
        "quarter": gettext_lazy("Give the hours in quarter hours (0.25, 0.5, 0.75)."),
        "too_many": gettext_lazy("That is far more hours than one exchange can record."),
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        # Text is read exactly as the schema writes it (no spaces, no "1e0").
        if isinstance(data, str) and not re.fullmatch(HOURS_TEXT, data):
            self.fail("invalid")
        try:
            hours = Decimal(str(data).strip())
        except InvalidOperation:
            self.fail("invalid")
        if not hours.is_finite():
            self.fail("invalid")
        if hours <= 0:
            self.fail("positive")
        # Beyond this no time bank's maximum applies; it keeps the arithmetic small.
        if hours.adjusted() >= 6:
            self.fail("too_many")
        minutes = hours * 60
        if minutes != minutes.to_integral_value() or int(minutes) % services.QUARTER_HOUR:
            self.fail("quarter")
        return int(minutes)

    def to_representation(self, value: int) -> str:
        return f"{(Decimal(value) / 60).normalize():f}"


# The field takes any small number so the services can say what is wrong with it; the schema
# shows what they accept.
@extend_schema_field({"type": "integer", "minimum": 15, "maximum": 10**6, "multipleOf": 15})
class MinutesField(serializers.IntegerField):
    pass


# In the schema: a body with an amount gives hours or minutes, one of them.
AMOUNT_RULE = {"oneOf": [{"required": ["hours"]}, {"required": ["minutes"]}]}


class AmountMixin(serializers.Serializer):
    """Either ``hours`` (decimal, quarter hours) or ``minutes`` (whole minutes); read as
    ``attrs["minutes"]``, with ``attrs["amount_field"]`` naming the one given."""

    hours = HoursField(required=False)
    minutes = MinutesField(
        required=False,
        min_value=-(10**6),
        max_value=10**6,
        help_text="Instead of hours: whole minutes, a multiple of 15.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if "hours" in attrs and "minutes" in attrs:
            raise serializers.ValidationError(
                {"hours": [gettext("Give hours or minutes, not both.")]}
            )
        if "hours" in attrs:
            attrs["minutes"] = attrs.pop("hours")
            attrs["amount_field"] = "hours"
        elif "minutes" in attrs:
            attrs["amount_field"] = "minutes"
        else:
            raise serializers.ValidationError({"hours": [gettext("Say how many hours.")]})
        return attrs


class DetailsMixin(serializers.Serializer):
    """What every exchange says about the help."""

    effective_date = serializers.DateField(
        required=False, help_text="The day the help happened; today if left out."
    )
    description = serializers.CharField(max_length=200, help_text="What the help was.")
    category = SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    listing = serializers.IntegerField(
        required=False, allow_null=True, help_text="The offer or request it came from."
    )
    coproduction = serializers.ChoiceField(
        choices=CoProduction.choices, default=CoProduction.DELIVERY
    )


class RecordExchangeSerializer(StrictSerializer, AmountMixin, DetailsMixin):
    """Record a one-to-one exchange: as a party (``role`` and ``other_account``), or as a
    broker between two accounts (``giver_account`` and ``receiver_account``)."""

    schema_rules = {
        "allOf": [
            AMOUNT_RULE,
            {
                "oneOf": [
                    {"required": ["role", "other_account"]},
                    {"required": ["giver_account", "receiver_account"]},
                ]
            },
        ]
    }

    time_bank = serializers.SlugField(help_text="The time bank's short name.")
    role = _inline_enum(
        serializers.ChoiceField(
            choices=["gave", "received"],
            required=False,
            help_text="Whether you (or ``account``) gave or received the help.",
        ),
        ["gave", "received"],
    )
    account = serializers.IntegerField(
        required=False,
        help_text="With ``role``: the account you act for (an organisation's you represent); "
        "your own if left out.",
    )
    other_account = serializers.IntegerField(
        required=False, help_text="With ``role``: the other person's account."
    )
    giver_account = serializers.IntegerField(
        required=False, help_text="Brokers: the account that gave the help (earns the hours)."
    )
    receiver_account = serializers.IntegerField(
        required=False, help_text="Brokers: the account that received the help (gives hours)."
    )
    past_limit = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Brokers: record it even though it takes an account past its limit; the "
        "limit is widened just enough and the exchange waits for a broker to approve it.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        by_role = {"role", "account", "other_account"} & set(attrs)
        by_accounts = {"giver_account", "receiver_account"} & set(attrs)
        if by_role and by_accounts:
            raise serializers.ValidationError(
                gettext(
                    "Give either role and other_account, or giver_account and receiver_account."
                )
            )
        if by_accounts:
            for name in ("giver_account", "receiver_account"):
                if name not in attrs:
                    raise serializers.ValidationError({name: [gettext("This field is required.")]})
        else:
            for name in ("role", "other_account"):
                if name not in attrs:
                    raise serializers.ValidationError({name: [gettext("This field is required.")]})
        return attrs


class LegSerializer(StrictSerializer, AmountMixin):
    """One account's part in a group exchange: its hours (or minutes)."""

    schema_rules = AMOUNT_RULE
    account = serializers.IntegerField()


class GroupExchangeSerializer(StrictSerializer, DetailsMixin):
    """A group exchange: each provider earns their hours, each receiver gives theirs; any
    difference goes to or comes from the community pot, by the bank's rule."""

    time_bank = serializers.SlugField(help_text="The time bank's short name.")
    providers: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LegSerializer(), min_length=1, max_length=services.MAX_GROUP
    )
    receivers: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LegSerializer(), min_length=1, max_length=services.MAX_GROUP
    )


class DonationSerializer(StrictSerializer, AmountMixin):
    schema_rules = AMOUNT_RULE
    time_bank = serializers.SlugField(help_text="The time bank's short name.")
    from_account = serializers.IntegerField(
        required=False,
        help_text="The account giving the hours: yours if left out, or an organisation's you "
        "represent (brokers: any member's).",
    )
    to_account = serializers.IntegerField(
        required=False, help_text="Who receives them; the community pot if left out."
    )
    # The exchange's description holds the note: 200 characters.
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class GrantSerializer(StrictSerializer, AmountMixin):
    schema_rules = AMOUNT_RULE
    time_bank = serializers.SlugField(help_text="The time bank's short name.")
    to_account = serializers.IntegerField(help_text="The member or organisation receiving.")
    reason = serializers.CharField(
        max_length=200, help_text="Why the hours are granted; shows on the pot's statement."
    )


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, help_text="Both people will read it.")


class ExchangeFilterSerializer(StrictSerializer):
    from_query_string = True
    time_bank = serializers.SlugField(required=False, help_text="A time bank's short name.")
    state = _inline_enum(
        serializers.ChoiceField(choices=State.choices, required=False),
        [s.value for s in State],
    )
    page = serializers.IntegerField(required=False, min_value=1)


class StatementQuerySerializer(StrictSerializer):
    from_query_string = True
    account = serializers.IntegerField(help_text="The account's id (see /api/balances/).")

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, help_text="First day (YYYY-MM-DD); the 1st of this month if left out."
        )
        fields["to"] = serializers.DateField(
            required=False, help_text="Last day, included (YYYY-MM-DD); today if left out."
        )
        return fields

    def validate(self, attrs: dict) -> dict:
        today = timezone.localdate()
        attrs.setdefault("to", today)
        attrs.setdefault("from", min(today.replace(day=1), attrs["to"]))
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError(
                {"from": [gettext("The first day is after the last day.")]}
            )
        return attrs


# --- Output --------------------------------------------------------------------------------------


class AccountRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = _inline_enum(serializers.CharField(), [k.value for k in AccountKind])
    holder = serializers.CharField(source="holder_name")


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()


class LegOutSerializer(serializers.Serializer):
    account = AccountRefSerializer()
    minutes = serializers.IntegerField(
        source="amount_minutes", help_text="Positive: the account earned these minutes."
    )


class ExchangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    time_bank = serializers.CharField(source="time_bank.slug")
    kind = _inline_enum(serializers.CharField(), [k.value for k in Kind])
    state = _inline_enum(serializers.CharField(), [s.value for s in State])
    minutes = serializers.IntegerField(help_text="Hours of help, in minutes.")
    hours = serializers.SerializerMethodField()
    effective_date = serializers.DateField()
    description = serializers.CharField()
    category = serializers.CharField(source="category.slug", allow_null=True)
    listing = serializers.IntegerField(source="listing_id", allow_null=True)
    coproduction = serializers.ChoiceField(choices=CoProduction.choices)
    giver = AccountRefSerializer(allow_null=True, help_text="One-to-one exchanges only.")
    receiver = AccountRefSerializer(allow_null=True, help_text="One-to-one exchanges only.")
    legs = serializers.SerializerMethodField()
    recorded_by = PersonRefSerializer()
    recorded_at = serializers.DateTimeField()
    awaiting_confirmation_from = PersonRefSerializer(allow_null=True)
    confirm_by = serializers.DateField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    needs_approval = serializers.BooleanField()
    approved_at = serializers.DateTimeField(allow_null=True)
    declined_at = serializers.DateTimeField(allow_null=True)
    decline_reason = serializers.CharField()
    reversed_at = serializers.DateTimeField(allow_null=True)
    reverse_reason = serializers.CharField()
    flagged_over_limit = serializers.BooleanField()

    def get_hours(self, exchange: Exchange) -> str:
        return format_hours(exchange.minutes)

    @extend_schema_field(LegOutSerializer(many=True))
    def get_legs(self, exchange: Exchange) -> list[dict]:
        """Every account's share of the journal (the community pot included)."""
        return list(LegOutSerializer(exchange.journal.entries.all(), many=True).data)


class BalanceSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="pk")
    time_bank = serializers.CharField(source="time_bank.slug")
    kind = _inline_enum(serializers.CharField(), [k.value for k in AccountKind])
    holder = serializers.CharField(source="holder_name")
    posted_minutes = serializers.IntegerField()
    pending_out_minutes = serializers.IntegerField(help_text="Held for exchanges not yet done.")
    pending_in_minutes = serializers.IntegerField(help_text="On their way in, not yet counted.")
    available_minutes = serializers.IntegerField(help_text="Posted, less what is held.")
    hours = serializers.SerializerMethodField(help_text="The posted balance, in words.")
    available_hours = serializers.SerializerMethodField()

    def get_hours(self, account: Account) -> str:
        return format_hours(account.posted_minutes)

    def get_available_hours(self, account: Account) -> str:
        return format_hours(account.available_minutes)


class StatementLineSerializer(serializers.Serializer):
    entry = serializers.IntegerField(source="pk")
    posted_at = serializers.DateTimeField()
    effective_date = serializers.DateField(source="journal.effective_date")
    description = serializers.CharField(source="journal.description")
    category = serializers.CharField(source="journal.category")
    exchange = serializers.SerializerMethodField()
    minutes = serializers.IntegerField(
        source="amount_minutes", help_text="Positive: hours earned; negative: hours given."
    )
    hours = serializers.SerializerMethodField()
    balance_minutes = serializers.IntegerField(source="balance_after")

    @extend_schema_field(OpenApiTypes.INT)
    def get_exchange(self, entry: Entry) -> int | None:
        """The exchange this entry records, or reverses; None for a bare ledger journal."""
        journal = entry.journal
        exchange = getattr(journal, "exchange", None) or getattr(journal, "reversed_exchange", None)
        return exchange.pk if exchange is not None else None

    def get_hours(self, entry: Entry) -> str:
        return format_hours(entry.amount_minutes)


class StatementSerializer(serializers.Serializer):
    account = AccountRefSerializer()
    time_bank = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    opening_minutes = serializers.IntegerField()
    opening_hours = serializers.CharField()
    closing_minutes = serializers.IntegerField()
    closing_hours = serializers.CharField()
    lines = StatementLineSerializer(many=True)


# --- Helpers -------------------------------------------------------------------------------------


def _me(request: Request) -> Person:
    me = person_for(request.user)
    if me is None:
        raise PermissionDenied(gettext("Please make your profile first."))
    return me


def _idempotency_key(request: Request, me: Person) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise serializers.ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    gettext("Use 1 to %(most)s letters, digits or punctuation, without spaces.")
                    % {"most": IDEMPOTENCY_KEY_MAX}
                ]
            }
        )
    # The service keeps it in the caller's own namespace (``services.caller_key``).
    return key


def _account_in(time_bank: TimeBank, pk: int, field: str) -> Account:
    """An account of ``time_bank`` named in the body. Whether the caller may use it (as a
    party, for an organisation, as a broker) is the service's decision."""
    account = (
        Account.objects.in_bank(time_bank)
        .select_related("person", "organisation", "time_bank")
        .filter(pk=pk)
        .first()
    )
    if account is None:
        raise serializers.ValidationError({field: [gettext("No such account in this time bank.")]})
    return account


def _own_account(time_bank: TimeBank, me: Person) -> Account:
    # The caller trades in the bank (checked by get_bank_for_member): their account exists
    # from their first exchange on, and this opens it if this is the first.
    return ledger.open_account(time_bank=time_bank, person=me)


def _details(request: Request, time_bank: TimeBank, data: dict) -> services.Details:
    listing = None
    if data.get("listing") is not None:
        try:
            listing = get_listing_for(request.user, data["listing"])
        except Http404:
            listing = None
        if listing is None or listing.time_bank_id != time_bank.pk:
            raise serializers.ValidationError(
                {"listing": [gettext("No such offer or request in this time bank.")]}
            )
    return services.Details(
        # Left out: None, which the service reads as today (and a retry after midnight replays).
        effective_date=data.get("effective_date"),
        description=data["description"],
        category=data.get("category"),
        coproduction=data["coproduction"],
        listing=listing,
    )


@contextmanager
def _named_as(amount_field: str) -> Iterator[None]:
    """The services name the amount ``minutes``; a caller who sent ``hours`` reads ``hours``."""
    try:
        yield
    except DjangoValidationError as error:
        if amount_field == "minutes" or not hasattr(error, "error_dict"):
            raise
        renamed = {
            (amount_field if name == "minutes" else name): errors
            for name, errors in error.error_dict.items()
        }
        raise DjangoValidationError(renamed) from error


def _render(exchange: Exchange, code: int = status.HTTP_200_OK) -> Response:
    return Response(ExchangeSerializer(exchange).data, status=code)


# --- Schema pieces -------------------------------------------------------------------------------

# The header as the server reads it: 1 to 64 visible ASCII characters.
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": IDEMPOTENCY_KEY_MAX,
    "pattern": "^[!-~]+$",
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_SCHEMA,
    OpenApiParameter.HEADER,
    description="A key of your choice (e.g. a UUID). A retry with the same key and body "
    "returns the original result and moves nothing again; the same key with another body "
    "is refused with 409.",
)
DECISION_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_SCHEMA,
    OpenApiParameter.HEADER,
    description="A key of your choice (e.g. a UUID). A retry with the same key and body "
    "answers as the first decision did (the exchange, as it is now) and changes nothing; the "
    "same key for another decision is refused with 409. Without a key, deciding an exchange "
    "already decided is a 409 that says what it is now.",
)
ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Bad input: a list of messages for each field at fault.",
        examples=[
            OpenApiExample(
                "Not in quarter hours",
                value={"hours": ["Give the hours in quarter hours (0.25, 0.5, 0.75)."]},
                response_only=True,
                status_codes=["400"],
            )
        ],
    ),
    403: OpenApiResponse(ErrorSerializer, description="Not yours to do."),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not yours to see."),
}
CONFLICT = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="A ledger conflict: not enough hours, a reused key, already decided "
        "(then ``state`` says what the exchange is now).",
        examples=[
            OpenApiExample(
                "Past the other member's limit",
                value={
                    "detail": "Bob Baker has received as many hours as the time bank allows "
                    "for now. Please ask your broker (01632 960 123): they can record it for a "
                    "broker to approve.",
                    "code": "PastLimit",
                },
                response_only=True,
                status_codes=["409"],
            ),
            OpenApiExample(
                "Past your own limit",
                value={
                    "detail": "Your balance would be -10.5 hours, past the limit of -10 hours. "
                    "Give some help first, or ask your broker (01632 960 123): they can record "
                    "it for a broker to approve.",
                    "code": "PastLimit",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
}

EXCHANGE_EXAMPLE = OpenApiExample(
    "An exchange waiting for confirmation",
    value={
        "id": 12,
        "time_bank": "riverside",
        "kind": "service",
        "state": "unconfirmed",
        "minutes": 90,
        "hours": "1.5 hours",
        "effective_date": "2025-03-14",
        "description": "Help with the garden",
        "category": "gardening",
        "listing": None,
        "coproduction": "co-delivery",
        "giver": {"id": 3, "kind": "member", "holder": "Alice Archer"},
        "receiver": {"id": 4, "kind": "member", "holder": "Bob Baker"},
        "legs": [
            {"account": {"id": 4, "kind": "member", "holder": "Bob Baker"}, "minutes": -90},
            {"account": {"id": 3, "kind": "member", "holder": "Alice Archer"}, "minutes": 90},
        ],
        "recorded_by": {"id": 1, "display_name": "Alice Archer"},
        "recorded_at": "2025-03-14T16:02:11Z",
        "awaiting_confirmation_from": {"id": 2, "display_name": "Bob Baker"},
        "confirm_by": "2025-03-28",
        "confirmed_at": None,
        "needs_approval": False,
        "approved_at": None,
        "declined_at": None,
        "decline_reason": "",
        "reversed_at": None,
        "reverse_reason": "",
        "flagged_over_limit": False,
    },
    response_only=True,
)


# --- Exchanges -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Exchanges you took part in, and every exchange of the banks you broker",
        parameters=[ExchangeFilterSerializer],
        examples=[EXCHANGE_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary="One exchange", examples=[EXCHANGE_EXAMPLE], responses={200: ExchangeSerializer}
    ),
)
class ExchangeViewSet(viewsets.GenericViewSet):
    serializer_class = ExchangeSerializer
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Exchange]:
        legs = Entry.objects.select_related("account__person", "account__organisation").order_by(
            "pk"
        )
        return (
            Exchange.objects.visible_to(self.request.user)
            .select_related(
                "time_bank",
                "journal",
                "category",
                "giver__person",
                "giver__organisation",
                "receiver__person",
                "receiver__organisation",
                "recorded_by",
                "awaiting_confirmation_from",
            )
            .prefetch_related(Prefetch("journal__entries", queryset=legs))
            .order_by("-effective_date", "-recorded_at", "-pk")
        )

    def list(self, request: Request) -> Response:
        filters = ExchangeFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        exchanges = self.get_queryset()
        if "time_bank" in filters.validated_data:
            exchanges = exchanges.filter(time_bank__slug=filters.validated_data["time_bank"])
        if "state" in filters.validated_data:
            exchanges = exchanges.filter(state=filters.validated_data["state"])
        page = self.paginate_queryset(exchanges)
        return self.get_paginated_response(ExchangeSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        exchange = get_exchange_for(request.user, int(pk))
        return _render(exchange)

    @extend_schema(
        summary="Record an exchange",
        description="As a party: ``role`` (gave or received) and ``other_account``. As a "
        "broker: ``giver_account`` and ``receiver_account``. By the bank's policy the exchange "
        "then waits for the other person to confirm, for a broker to approve, or is completed "
        "at once.",
        request=RecordExchangeSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ExchangeSerializer, **ERRORS, **CONFLICT, 429: RATE_LIMITED},
        examples=[
            OpenApiExample(
                "A member records help they gave",
                value={
                    "time_bank": "riverside",
                    "role": "gave",
                    "other_account": 4,
                    "hours": "1.5",
                    "effective_date": "2025-03-14",
                    "description": "Help with the garden",
                    "category": "gardening",
                },
                request_only=True,
            ),
            OpenApiExample(
                "A broker records for two members",
                value={
                    "time_bank": "riverside",
                    "giver_account": 3,
                    "receiver_account": 7,
                    "minutes": 60,
                    "description": "A lift to the GP",
                    "coproduction": "co-delivery",
                },
                request_only=True,
            ),
            EXCHANGE_EXAMPLE,
        ],
    )
    def create(self, request: Request) -> Response:
        body = RecordExchangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        time_bank, me, _ = get_bank_for_member(request.user, data["time_bank"])
        key = _idempotency_key(request, me)
        if "giver_account" in data:
            giver = _account_in(time_bank, data["giver_account"], "giver_account")
            receiver = _account_in(time_bank, data["receiver_account"], "receiver_account")
        else:
            mine = (
                _account_in(time_bank, data["account"], "account")
                if "account" in data
                else _own_account(time_bank, me)
            )
            other = _account_in(time_bank, data["other_account"], "other_account")
            giver, receiver = (mine, other) if data["role"] == "gave" else (other, mine)
        details = _details(request, time_bank, data)
        with _named_as(data["amount_field"]):
            exchange = services.record_exchange(
                recorded_by=me,
                giver=giver,
                receiver=receiver,
                minutes=data["minutes"],
                details=details,
                idempotency_key=key,
                past_limit=data["past_limit"],
            )
        return _render(exchange, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record a group exchange",
        description="One journal for a group: a class (one provider, many receivers) or a "
        "community lunch (many providers, one receiver). Brokers, or a representative of an "
        "organisation taking part.",
        request=GroupExchangeSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ExchangeSerializer, **ERRORS, **CONFLICT, 429: RATE_LIMITED},
        examples=[
            OpenApiExample(
                "A class: the teacher earns 2 hours, three attendees give 1 hour each",
                value={
                    "time_bank": "riverside",
                    "providers": [{"account": 3, "hours": "2"}],
                    "receivers": [
                        {"account": 4, "hours": "1"},
                        {"account": 5, "hours": "1"},
                        {"account": 6, "hours": "1"},
                    ],
                    "description": "Computer class at the library",
                    "category": "computers",
                },
                request_only=True,
            )
        ],
    )
    @action(detail=False, methods=["post"])
    def group(self, request: Request) -> Response:
        body = GroupExchangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        time_bank, me, _ = get_bank_for_member(request.user, data["time_bank"])
        key = _idempotency_key(request, me)
        legs = {
            side: [
                (_account_in(time_bank, leg["account"], side), leg["minutes"]) for leg in data[side]
            ]
            for side in ("providers", "receivers")
        }
        exchange = services.record_group_exchange(
            recorded_by=me,
            time_bank=time_bank,
            providers=legs["providers"],
            receivers=legs["receivers"],
            details=_details(request, time_bank, data),
            idempotency_key=key,
        )
        return _render(exchange, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Confirm an exchange the other person recorded",
        request=NoBodySerializer,
        parameters=[DECISION_KEY_PARAMETER],
        responses={200: ExchangeSerializer, **ERRORS, **CONFLICT},
        examples=[EXCHANGE_EXAMPLE],
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        exchange = get_exchange_for(request.user, int(pk), write=True)
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        me = _me(request)
        return _render(
            services.confirm_exchange(
                exchange=exchange, person=me, idempotency_key=_idempotency_key(request, me)
            )
        )

    @extend_schema(
        summary="Approve an exchange (brokers)",
        description="The hours move. Approving an unconfirmed exchange also confirms it. A "
        "broker who took part cannot approve it.",
        request=NoBodySerializer,
        parameters=[DECISION_KEY_PARAMETER],
        responses={200: ExchangeSerializer, **ERRORS, **CONFLICT},
        examples=[EXCHANGE_EXAMPLE],
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        exchange = get_exchange_for(request.user, int(pk), write=True)
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        me = _me(request)
        return _render(
            services.approve_exchange(
                exchange=exchange, broker=me, idempotency_key=_idempotency_key(request, me)
            )
        )

    @extend_schema(
        summary="Decline an exchange",
        description="A broker, or the person asked to confirm it. The held hours are released.",
        request=ReasonSerializer,
        parameters=[DECISION_KEY_PARAMETER],
        responses={200: ExchangeSerializer, **ERRORS, **CONFLICT},
        examples=[
            OpenApiExample(
                "Decline", value={"reason": "It was one hour, not two."}, request_only=True
            ),
            EXCHANGE_EXAMPLE,
        ],
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        exchange = get_exchange_for(request.user, int(pk), write=True)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        me = _me(request)
        return _render(
            services.decline_exchange(
                exchange=exchange,
                person=me,
                reason=body.validated_data["reason"],
                idempotency_key=_idempotency_key(request, me),
            )
        )

    @extend_schema(
        summary="Reverse a completed exchange (brokers)",
        description="A new journal undoes the hours; the original stays on both statements.",
        request=ReasonSerializer,
        parameters=[DECISION_KEY_PARAMETER],
        responses={200: ExchangeSerializer, **ERRORS, **CONFLICT},
        examples=[
            OpenApiExample(
                "Reverse",
                value={"reason": "Recorded twice by mistake."},
                request_only=True,
            ),
            EXCHANGE_EXAMPLE,
        ],
    )
    @action(detail=True, methods=["post"])
    def reverse(self, request: Request, pk: str) -> Response:
        exchange = get_exchange_for(request.user, int(pk), write=True)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        me = _me(request)
        return _render(
            services.reverse_exchange(
                exchange=exchange,
                broker=me,
                reason=body.validated_data["reason"],
                idempotency_key=_idempotency_key(request, me),
            )
        )


# --- Donations and grants ------------------------------------------------------------------------


class DonationView(APIView):
    @extend_schema(
        summary="Give hours to the community pot, a member or an organisation",
        request=DonationSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ExchangeSerializer, **ERRORS, **CONFLICT, 429: RATE_LIMITED},
        examples=[
            OpenApiExample(
                "To the community pot",
                value={"time_bank": "riverside", "hours": "2", "note": "For the winter appeal"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = DonationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        time_bank, me, _ = get_bank_for_member(request.user, data["time_bank"])
        key = _idempotency_key(request, me)
        donor = (
            _account_in(time_bank, data["from_account"], "from_account")
            if "from_account" in data
            else _own_account(time_bank, me)
        )
        to_account = (
            _account_in(time_bank, data["to_account"], "to_account")
            if "to_account" in data
            else ledger.community_pot(time_bank=time_bank)
        )
        with _named_as(data["amount_field"]):
            exchange = services.donate_hours(
                recorded_by=me,
                donor=donor,
                to_account=to_account,
                minutes=data["minutes"],
                note=data.get("note", ""),
                idempotency_key=key,
            )
        return _render(exchange, status.HTTP_201_CREATED)


class GrantView(APIView):
    @extend_schema(
        summary="Grant hours from the community pot (brokers)",
        request=GrantSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ExchangeSerializer, **ERRORS, **CONFLICT, 429: RATE_LIMITED},
        examples=[
            OpenApiExample(
                "A grant",
                value={
                    "time_bank": "riverside",
                    "to_account": 9,
                    "hours": "3",
                    "reason": "Welcome hours for a new member",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = GrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        time_bank, me, _ = get_bank_for_member(request.user, data["time_bank"])
        key = _idempotency_key(request, me)
        to_account = _account_in(time_bank, data["to_account"], "to_account")
        with _named_as(data["amount_field"]):
            exchange = services.grant_from_pot(
                broker=me,
                time_bank=time_bank,
                to_account=to_account,
                minutes=data["minutes"],
                reason=data["reason"],
                idempotency_key=key,
            )
        return _render(exchange, status.HTTP_201_CREATED)


# --- Balances and statements ---------------------------------------------------------------------


class BalancesView(APIView):
    @extend_schema(
        summary="Your hours: your own accounts and those of organisations you represent",
        responses=BalanceSerializer(many=True),
        examples=[
            OpenApiExample(
                "Balances",
                value=[
                    {
                        "account": 3,
                        "time_bank": "riverside",
                        "kind": "member",
                        "holder": "Alice Archer",
                        "posted_minutes": 150,
                        "pending_out_minutes": 60,
                        "pending_in_minutes": 90,
                        "available_minutes": 90,
                        "hours": "2.5 hours",
                        "available_hours": "1.5 hours",
                    }
                ],
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        me = person_for(request.user)
        accounts = (
            Account.objects.reachable_by(request.user)
            .held_by(me)
            .select_related("time_bank", "person", "organisation")
            .order_by("time_bank__name", "kind", "pk")
            if me is not None
            else Account.objects.none()
        )
        return Response(BalanceSerializer(accounts, many=True).data)


class StatementView(APIView):
    @extend_schema(
        summary="A statement of one account for a date range",
        description="Opening balance, every entry posted in the range (by posting time) with "
        "the running balance, and closing balance. Pending exchanges are not on a statement "
        "until they are posted.",
        parameters=[
            OpenApiParameter("account", OpenApiTypes.INT, required=True),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day; 1st of month."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, included; today."),
        ],
        responses={200: StatementSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "March",
                value={
                    "account": {"id": 3, "kind": "member", "holder": "Alice Archer"},
                    "time_bank": "riverside",
                    "date_from": "2025-03-01",
                    "date_to": "2025-03-31",
                    "opening_minutes": 60,
                    "opening_hours": "1 hour",
                    "closing_minutes": 150,
                    "closing_hours": "2.5 hours",
                    "lines": [
                        {
                            "entry": 41,
                            "posted_at": "2025-03-14T16:02:11Z",
                            "effective_date": "2025-03-14",
                            "description": "Help with the garden",
                            "category": "gardening",
                            "exchange": 12,
                            "minutes": 90,
                            "hours": "1.5 hours",
                            "balance_minutes": 150,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = StatementQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        time_bank = TimeBank.objects.filter(accounts__pk=data["account"]).first()
        if time_bank is None:
            raise Http404(gettext("No such account."))
        account = get_account_for(request.user, time_bank, data["account"])
        found = ledger.statement(account=account, first_day=data["from"], last_day=data["to"])
        statement = {
            "account": account,
            "time_bank": time_bank.slug,
            "date_from": data["from"],
            "date_to": data["to"],
            "opening_minutes": found.opening,
            "opening_hours": format_hours(found.opening),
            "closing_minutes": found.closing,
            "closing_hours": format_hours(found.closing),
            "lines": found.lines.select_related("journal__exchange", "journal__reversed_exchange"),
        }
        return Response(StatementSerializer(statement).data)
