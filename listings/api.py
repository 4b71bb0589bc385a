"""The offers and requests API: listings (browse, publish, edit, renew, close, reply) and
categories. Boring on purpose: validate, call a service, render.

Every queryset is limited to the caller's time banks; what lies outside is 404. Unknown
fields in a request body are refused with 400, so a typo never passes silently."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from members.access import confine_to_acting_bank, person_for
from members.models import TRADING_ROLES, Membership, Organisation, Person, Status, TimeBank
from timebank.api import (
    ID_PATTERN,
    RATE_LIMITED,
    NoBodySerializer,
    SlugRelatedField,
    StrictSerializer,
)

from . import services
from .access import get_listing_for
from .models import Category, Contact, Listing, ListingKind


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class OwnerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["person", "organisation"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    area = serializers.CharField()
    phone = serializers.CharField(help_text="Only when the person chose to share it; else empty.")


class ListingSerializer(serializers.ModelSerializer):
    """An offer or request as members see it: the owner's name and area, never their email."""

    time_bank: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    category = CategorySerializer(read_only=True)
    owner = serializers.SerializerMethodField()
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Listing
        fields = [
            "id",
            "time_bank",
            "kind",
            "category",
            "title",
            "description",
            "area",
            "availability",
            "expires_on",
            "state",
            "is_open",
            "owner",
            "created_at",
        ]

    @extend_schema_field(OwnerSerializer)
    def get_owner(self, listing: Listing) -> dict:
        if listing.person is not None:
            person = listing.person
            return {
                "type": "person",
                "id": person.pk,
                "name": person.display_name,
                "area": person.area,
                "phone": person.phone if person.share_phone else "",
            }
        organisation = listing.organisation
        assert organisation is not None
        return {
            "type": "organisation",
            "id": organisation.pk,
            "name": organisation.name,
            "area": organisation.area,
            "phone": "",
        }


class ListingChangeSerializer(StrictSerializer):
    """Change an offer or request: what it says. Whose it is and where are fixed (close it and
    publish a new one)."""

    kind = serializers.ChoiceField(choices=ListingKind.choices)
    category = SlugRelatedField(slug_field="slug", queryset=Category.objects.all())
    title = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    area = serializers.CharField(max_length=40, required=False, allow_blank=True)
    availability = serializers.CharField(max_length=120, required=False, allow_blank=True)
    expires_on = serializers.DateField(required=False, allow_null=True)

    def details(self, listing: Listing | None = None) -> services.ListingDetails:
        data = self.validated_data

        def pick(name: str, default: object = "") -> object:
            if name in data:
                return data[name]
            return getattr(listing, name) if listing is not None else default

        return services.ListingDetails(
            kind=pick("kind"),  # type: ignore[arg-type]
            category=pick("category"),  # type: ignore[arg-type]
            title=pick("title"),  # type: ignore[arg-type]
            description=pick("description"),  # type: ignore[arg-type]
            area=pick("area"),  # type: ignore[arg-type]
            availability=pick("availability"),  # type: ignore[arg-type]
            expires_on=data.get("expires_on"),
        )


class ListingWriteSerializer(ListingChangeSerializer):
    """Publish an offer or request, in a time bank, for yourself or someone you act for."""

    time_bank = serializers.SlugField(help_text="The time bank's short name.")
    person = serializers.IntegerField(
        required=False, help_text="Brokers: publish for this member (e.g. an offline member)."
    )
    organisation = serializers.IntegerField(
        required=False, help_text="Publish for this organisation, which you represent."
    )


class ReplySerializer(StrictSerializer):
    message = serializers.CharField(max_length=2000)
    to_person = serializers.IntegerField(
        required=False,
        help_text="The owner answering someone who wrote to them; leave out to write to the owner.",
    )


class ContactSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="reply, introduction or accepted")
    to = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = ["id", "kind", "listing", "to", "message", "created_at"]

    def get_to(self, contact: Contact) -> str:
        if contact.to_person is not None:
            return contact.to_person.display_name
        return contact.to_organisation.name if contact.to_organisation else ""


class ListingFilterSerializer(StrictSerializer):
    from_query_string = True
    time_bank = serializers.SlugField(required=False, help_text="A time bank's short name")
    kind = serializers.ChoiceField(choices=ListingKind.choices, required=False)
    category = serializers.SlugField(required=False, help_text="A category's slug")
    q = serializers.CharField(
        required=False,
        max_length=100,
        allow_blank=True,
        help_text="Words in the title or description",
    )
    area = serializers.CharField(
        required=False,
        max_length=40,
        allow_blank=True,
        help_text="Area, e.g. GL50 (matches the start)",
    )
    mine = serializers.BooleanField(
        required=False, default=False, help_text="Only yours and your organisations', also closed"
    )
    page = serializers.IntegerField(required=False, min_value=1)


LISTING_CHANGE_EXAMPLE = OpenApiExample(
    "An offer of help, changed",
    value={
        "kind": "offer",
        "category": "gardening",
        "title": "Help with the garden and hedges",
        "description": "Weeding, pruning, mowing, hedges.",
        "area": "GL50",
        "availability": "Weekday mornings",
    },
    request_only=True,
)
LISTING_EXAMPLE = OpenApiExample(
    "An offer of help",
    value={
        "time_bank": "riverside",
        "kind": "offer",
        "category": "gardening",
        "title": "Help with the garden",
        "description": "Weeding, pruning, mowing.",
        "area": "GL50",
        "availability": "Weekday mornings",
    },
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="Open offers and requests in your time banks",
        parameters=[ListingFilterSerializer],
    ),
    retrieve=extend_schema(summary="One offer or request"),
    create=extend_schema(
        summary="Publish an offer or request",
        request=ListingWriteSerializer,
        responses={201: ListingSerializer},
        examples=[LISTING_EXAMPLE],
    ),
    update=extend_schema(
        summary="Change an offer or request",
        request=ListingChangeSerializer,
        responses=ListingSerializer,
        examples=[LISTING_CHANGE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change part of an offer or request",
        request=ListingChangeSerializer,
        responses=ListingSerializer,
        examples=[
            OpenApiExample(
                "New times", value={"availability": "Saturday mornings"}, request_only=True
            )
        ],
    ),
)
class ListingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ListingSerializer
    lookup_value_regex = ID_PATTERN
    writes = frozenset({"update", "partial_update", "close", "renew"})

    def get_queryset(self) -> QuerySet[Listing]:
        listings = Listing.objects.visible_to(self.request.user).with_owner()
        if self.action != "list":
            return listings
        filters = ListingFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        if data["mine"]:
            me = person_for(self.request.user)
            listings = listings.owned_by(me) if me else listings.none()
        else:
            listings = listings.open()
        if "time_bank" in data:
            listings = listings.filter(time_bank__slug=data["time_bank"])
        if "kind" in data:
            listings = listings.filter(kind=data["kind"])
        if "category" in data:
            listings = listings.filter(category__slug=data["category"])
        if data.get("q"):
            listings = listings.search(data["q"])
        if data.get("area"):
            listings = listings.filter(area__istartswith=data["area"].strip())
        return listings

    def get_object(self) -> Listing:
        return get_listing_for(
            self.request.user, int(self.kwargs["pk"]), write=self.action in self.writes
        )

    def _me(self) -> Person:
        me = person_for(self.request.user)
        if me is None:
            raise PermissionDenied(_("Please make your profile first."))
        return me

    def create(self, request: Request) -> Response:
        body = ListingWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        me = self._me()
        named = TimeBank.objects.filter(slug=data["time_bank"]).first()
        if named is not None:
            confine_to_acting_bank(request.user, named)
        bank = TimeBank.objects.filter(
            slug=data["time_bank"],
            memberships__in=Membership.objects.for_user(request.user),
            memberships__status=Status.APPROVED,
            memberships__role__in=TRADING_ROLES,
        ).first()
        if bank is None:
            raise serializers.ValidationError(
                {"time_bank": [_("You are not a member of a time bank with that name.")]}
            )
        owner: dict = {}
        if "organisation" in data:
            organisation = Organisation.objects.filter(
                pk=data["organisation"], time_bank=bank
            ).first()
            if organisation is None:
                raise serializers.ValidationError(
                    {"organisation": [_("No such organisation in this time bank.")]}
                )
            owner["for_organisation"] = organisation
        elif "person" in data:
            person = Person.objects.filter(pk=data["person"], memberships__time_bank=bank).first()
            if person is None:
                raise serializers.ValidationError(
                    {"person": [_("No such member in this time bank.")]}
                )
            owner["for_person"] = person
        listing = services.publish_listing(
            author=me, time_bank=bank, details=body.details(), **owner
        )
        return Response(
            ListingSerializer(self._reload(listing)).data, status=status.HTTP_201_CREATED
        )

    def _reload(self, listing: Listing) -> Listing:
        return Listing.objects.with_owner().get(pk=listing.pk)

    def _update(self, request: Request, *, partial: bool) -> Response:
        listing = self.get_object()
        body = ListingChangeSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        updated = services.update_listing(
            listing=listing, editor=self._me(), details=body.details(listing)
        )
        return Response(ListingSerializer(self._reload(updated)).data)

    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=False)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=True)

    @extend_schema(
        request=NoBodySerializer, responses=ListingSerializer, summary="Close an offer or request"
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        listing = self.get_object()
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        listing = services.close_listing(listing=listing, editor=self._me())
        return Response(ListingSerializer(self._reload(listing)).data)

    @extend_schema(
        request=NoBodySerializer,
        responses=ListingSerializer,
        summary="Renew: show it for longer, reopened",
    )
    @action(detail=True, methods=["post"])
    def renew(self, request: Request, pk: str) -> Response:
        listing = self.get_object()
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        listing = services.renew_listing(listing=listing, editor=self._me())
        return Response(ListingSerializer(self._reload(listing)).data)

    @extend_schema(
        request=ReplySerializer,
        responses={201: ContactSerializer, 429: RATE_LIMITED},
        summary="Write to the owner through the site (their email stays private)",
        examples=[
            OpenApiExample(
                "A reply",
                value={"message": "I could help on Saturday morning."},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str) -> Response:
        listing = self.get_object()
        body = ReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        to_person = None
        if "to_person" in body.validated_data:
            to_person = Person.objects.filter(pk=body.validated_data["to_person"]).first()
            if to_person is None:
                raise serializers.ValidationError({"to_person": [_("No such person.")]})
        contact = services.reply_to_listing(
            listing=listing,
            sender=self._me(),
            message=body.validated_data["message"],
            to_person=to_person,
        )
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Categories of help"))
class CategoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CategorySerializer
    queryset = Category.objects.all()
    pagination_class = None
