"""The API keeps the promises its schema makes, to an attacker's probes as to a client: every
write refuses fields it does not know; an id that is not a number names nothing (a JSON 404,
never a 500); input the database cannot store is refused with a field message on every backend;
a database that cannot be reached is a 503 to retry, not a 500."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

from django.db import OperationalError
from django.test import Client, SimpleTestCase
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from listings.models import Listing, ListingState
from members.models import Membership, Person, Status
from tests.base import CastTestCase
from tests.listings.support import make_listing
from tests.support import user_of
from timebank.api import NOT_ONLY_SPACES

ATTACK = {"role": "admin", "is_staff": True}


class UnknownFieldsAreRefusedOnEveryWrite(CastTestCase):
    def client_for(self, person: Person) -> APIClient:
        client = APIClient()
        client.force_authenticate(person.user)
        return client

    def test_closing_or_renewing_with_unknown_fields_is_a_400_and_does_nothing(self):
        listing = make_listing(self.riverside, self.bob, "Computer help")
        bob = self.client_for(self.bob)
        closed = bob.post(f"/api/listings/{listing.pk}/close/", ATTACK, format="json")
        self.assertEqual(closed.status_code, 400, closed.content)
        self.assertEqual(set(closed.json()), {"role", "is_staff"})
        listing.refresh_from_db()
        self.assertEqual(listing.state, ListingState.OPEN)
        Listing.objects.filter(pk=listing.pk).update(state=ListingState.CLOSED)
        renewed = bob.post(f"/api/listings/{listing.pk}/renew/", ATTACK, format="json")
        self.assertEqual(renewed.status_code, 400, renewed.content)
        listing.refresh_from_db()
        self.assertEqual(listing.state, ListingState.CLOSED)

    def test_approving_or_declining_an_application_with_unknown_fields_is_a_400(self):
        application = Membership.objects.get(person=self.dora, time_bank=self.riverside)
        brenda = self.client_for(self.brenda)
        approved = brenda.post(
            f"/api/applications/{application.pk}/approve/", ATTACK, format="json"
        )
        declined = brenda.post(
            f"/api/applications/{application.pk}/decline/",
            {"reason": "No referees", **ATTACK},
            format="json",
        )
        self.assertEqual((approved.status_code, declined.status_code), (400, 400))
        application.refresh_from_db()
        self.assertEqual(application.status, Status.APPLIED)


class IdsThatAreNotNumbers(CastTestCase):
    def test_an_application_id_that_is_not_a_number_is_a_json_404_not_a_500(self):
        client = APIClient()
        client.force_authenticate(self.brenda.user)
        for method, path in [
            ("get", "/api/applications/abc/"),
            ("post", "/api/applications/abc/approve/"),
            ("post", "/api/applications/abc/decline/"),
        ]:
            with self.subTest(path=path):
                response = getattr(client, method)(path, {"reason": "x"}, format="json")
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertIn("detail", response.json())

    def test_every_operation_that_names_an_id_answers_json_404_to_one_that_is_not_a_number(self):
        client = APIClient()
        client.force_authenticate(self.brenda.user)
        schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        operations = [
            (path, method)
            for path, methods in schema["paths"].items()
            if "{id}" in path
            for method in methods
            if method in {"get", "post", "put", "patch", "delete"}
        ]
        self.assertGreaterEqual(len(operations), 14)
        for path, method in operations:
            for bad in ("abc", "1.5", "-1", "9" * 19):
                with self.subTest(path=path, id=bad):
                    response = getattr(client, method)(path.replace("{id}", bad), {})
                    self.assertEqual(response.status_code, 404)
                    self.assertEqual(response["Content-Type"], "application/json")


class JsonOnly(CastTestCase):
    def test_a_body_that_is_not_json_is_a_415_and_an_accept_without_json_a_406_both_declared(self):
        client = APIClient()
        client.force_authenticate(self.bob.user)
        form = client.post(
            "/api/listings/", "kind=offer", content_type="application/x-www-form-urlencoded"
        )
        self.assertEqual(form.status_code, 415)
        self.assertEqual(form["Content-Type"], "application/json")
        html = client.get("/api/me/", HTTP_ACCEPT="text/html")
        self.assertEqual(html.status_code, 406)
        schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        paths = schema.json()["paths"]
        self.assertIn("415", paths["/api/listings/"]["post"]["responses"])
        self.assertIn("406", paths["/api/me/"]["get"]["responses"])


class PageNumbers(CastTestCase):
    def test_a_page_that_is_not_a_whole_number_from_1_names_no_page(self):
        client = APIClient()
        client.force_authenticate(self.brenda.user)
        self.assertEqual(client.get("/api/applications/", {"page": "1"}).status_code, 200)
        for page in ("", "0", "last", "1.5", "-1"):
            with self.subTest(page=page):
                response = client.get("/api/applications/", {"page": page})
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response["Content-Type"], "application/json")


class InputTheDatabaseCannotStore(CastTestCase):
    """PostgreSQL refuses a NUL byte in text (even to compare with it) and text longer than
    its column; SQLite takes both. Refused first, with a field message, on both."""

    def setUp(self) -> None:
        self.api = APIClient()
        self.api.force_authenticate(self.brenda.user)

    def test_a_nul_byte_in_a_category_is_a_400_naming_it_wherever_a_category_is_named(self):
        from ledger import services as ledger

        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        listing = make_listing(self.riverside, self.brenda, "Lifts")
        writes: list[tuple[str, str, dict[str, Any]]] = [
            (
                "post",
                "/api/exchanges/",
                {
                    "time_bank": "riverside",
                    "giver_account": olive.pk,
                    "receiver_account": bob.pk,
                    "hours": "1",
                    "description": "A lift",
                },
            ),
            (
                "post",
                "/api/exchanges/group/",
                {
                    "time_bank": "riverside",
                    "providers": [{"account": olive.pk, "hours": "1"}],
                    "receivers": [{"account": bob.pk, "hours": "1"}],
                    "description": "A class",
                },
            ),
            (
                "post",
                "/api/listings/",
                {"time_bank": "riverside", "kind": "offer", "title": "Lifts"},
            ),
            ("put", f"/api/listings/{listing.pk}/", {"kind": "offer", "title": "Lifts"}),
            ("patch", f"/api/listings/{listing.pk}/", {}),
        ]
        for method, path, body in writes:
            with self.subTest(method=method, path=path):
                response = getattr(self.api, method)(
                    path, {**body, "category": "garden\x00ing"}, format="json"
                )
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("category", response.json())

    def test_a_form_key_longer_than_the_ledger_keeps_is_refused_with_a_message(self):
        from ledger import services as ledger

        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("record-exchange", args=["riverside"]),
            {
                "direction": "gave",
                "other": bob.pk,
                "effective_date": timezone.localdate().isoformat(),
                "minutes": "1",
                "description": "Weeded the garden",
                "coproduction": "co-delivery",
                "idempotency_key": "k" * 101,
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "This form has expired")
        self.assertFalse(bob.entries.exists())

    def test_over_long_text_is_a_400_naming_the_field(self):
        listing = make_listing(self.riverside, self.brenda, "Lifts")
        response = self.api.patch(
            f"/api/listings/{listing.pk}/", {"title": "t" * 101}, format="json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("title", response.json())


class ADatabaseThatCannotBeReached(CastTestCase):
    def test_the_api_answers_503_with_retry_after_in_json(self):
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(self.bob.user)
        with mock.patch(
            "exchanges.api.ExchangeViewSet.get_queryset",
            side_effect=OperationalError("server closed"),
        ):
            response = client.get("/api/exchanges/")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertEqual(response["Retry-After"], "5")

    def test_a_page_answers_503_with_retry_after(self):
        client = Client(raise_request_exception=False)
        client.force_login(user_of(self.bob))
        with mock.patch(
            "exchanges.views.hour_totals", side_effect=OperationalError("server closed")
        ):
            response = client.get(reverse("dashboard", args=["riverside"]))
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "5")
        self.assertContains(response, "Try again later", status_code=503)


class TheSchemaSaysWhatBlankIs(SimpleTestCase):
    def test_the_not_blank_pattern_refuses_exactly_what_drf_trims_away(self):
        # A description of only "\x1c" (a file separator) is trimmed to nothing by DRF: the
        # schema's pattern must refuse it too, and accept every other character.
        wrong = [
            hex(code)
            for code in range(0x110000)
            if (re.search(NOT_ONLY_SPACES, chr(code)) is None) != chr(code).isspace()
        ]
        self.assertEqual(wrong, [])
