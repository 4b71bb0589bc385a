"""The members API: who am I and the broker's application queue (offers and requests:
``listings.api``). Boring on purpose: validate, call a service, render.

Every queryset is limited to the caller's time banks; what lies outside is 404. Unknown
fields in a request body are refused with 400, so a typo never passes silently."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from timebank.api import (
    ID_PATTERN,
    NoBodySerializer,
    StrictSerializer,
)

from . import services
from .access import get_application_for, person_for, signed_in
from .models import Membership, Person, TimeBank


class TimeBankSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimeBank
        fields = ["id", "name", "slug", "area"]


class MembershipSerializer(serializers.ModelSerializer):
    time_bank = TimeBankSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "time_bank", "role", "status", "applied_at", "decided_at"]


class PersonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "display_name", "bio", "area", "phone", "contact_preference"]


class MeSerializer(serializers.Serializer):
    email = serializers.EmailField()
    person = PersonSerializer(allow_null=True)
    memberships = MembershipSerializer(many=True)


class ApplicationSerializer(serializers.ModelSerializer):
    """An application as its broker sees it, with the referees to check."""

    time_bank = TimeBankSerializer(read_only=True)
    person = PersonSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "time_bank",
            "person",
            "status",
            "applied_at",
            "referee_1_name",
            "referee_1_contact",
            "referee_2_name",
            "referee_2_contact",
            "decided_at",
            "decline_reason",
        ]


class DeclineSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=1000, help_text="The applicant will read this.")


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="Your profile and your memberships")
    def get(self, request: Request) -> Response:
        memberships = Membership.objects.for_user(request.user).select_related("time_bank")
        data = {
            "email": signed_in(request.user).email,
            "person": person_for(request.user),
            "memberships": memberships,
        }
        return Response(MeSerializer(data).data)


class ApplicationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Applications waiting for a decision in the time banks you broker."""

    serializer_class = ApplicationSerializer
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Membership]:
        return (
            Membership.objects.brokered_by(self.request.user)
            .awaiting_decision()
            .select_related("person", "time_bank")
        )

    def get_object(self) -> Membership:
        return get_application_for(self.request.user, int(self.kwargs["pk"]), write=True)

    def _broker(self) -> Person:
        broker = person_for(self.request.user)
        if broker is None:
            raise PermissionDenied(
                _("Only a broker of this time bank can decide its applications.")
            )
        return broker

    @extend_schema(
        request=NoBodySerializer, responses=ApplicationSerializer, summary="Approve an application"
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        application = self.get_object()
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        membership = services.approve_membership(membership=application, broker=self._broker())
        return Response(ApplicationSerializer(membership).data)

    @extend_schema(
        request=DeclineSerializer,
        responses=ApplicationSerializer,
        summary="Decline an application",
        examples=[
            OpenApiExample(
                "Decline",
                value={"reason": "We could not reach your referees; please apply again."},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        application = self.get_object()
        body = DeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.decline_membership(
            membership=application, broker=self._broker(), reason=body.validated_data["reason"]
        )
        return Response(ApplicationSerializer(membership).data)
