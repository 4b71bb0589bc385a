from django.core import mail

from listings import services as listings
from listings.models import Contact, Listing
from tests.base import CastTestCase
from tests.support import user_of

from .support import api_client_for, make_listing

NEW = {
    "time_bank": "riverside",
    "kind": "request",
    "category": "shopping-and-errands",
    "title": "Help with shopping",
    "description": "Tesco on Fridays",
    "area": "GL50",
}


class ListingsApi(CastTestCase):
    offer: Listing
    elsewhere: Listing

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.offer = make_listing(
            cls.riverside,
            cls.bob,
            "Computer help",
            category_slug="computers-and-phones",
            area="GL51",
        )
        cls.elsewhere = make_listing(
            cls.hillside, cls.hugo, "Piano lessons", category_slug="music-and-arts"
        )

    def test_the_list_is_scoped_to_the_callers_banks(self):
        def titles(person):
            response = api_client_for(person).get("/api/listings/")
            return [x["title"] for x in response.json()["results"]]

        self.assertEqual(titles(self.alice), ["Computer help"])
        self.assertEqual(titles(self.brenda), ["Computer help"])
        self.assertEqual(titles(self.hugo), ["Piano lessons"])
        for person in (self.cora, self.dora):
            self.assertEqual(titles(person), [])

    def test_anonymous_callers_are_refused(self):
        self.assertIn(api_client_for(None).get("/api/listings/").status_code, {401, 403})

    def test_filters_work_and_bad_filters_are_400(self):
        alice = api_client_for(self.alice)
        self.assertEqual(alice.get("/api/listings/", {"category": "gardening"}).json()["count"], 0)
        self.assertEqual(
            alice.get("/api/listings/", {"q": "computer", "kind": "offer", "area": "gl5"}).json()[
                "count"
            ],
            1,
        )
        response = alice.get("/api/listings/", {"kind": "barter", "colour": "red"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("colour", response.json())
        self.assertEqual(alice.get("/api/listings/", {"page": "x"}).status_code, 400)

    def test_a_listing_shows_no_email_and_no_unshared_phone(self):
        self.bob.phone = "07700 900123"
        self.bob.save()
        body = api_client_for(self.alice).get(f"/api/listings/{self.offer.pk}/").json()
        self.assertEqual(
            body["owner"],
            {"type": "person", "id": self.bob.pk, "name": "Bob Baker", "area": "GL51", "phone": ""},
        )
        self.assertNotIn("@", str(body))

    def test_outsiders_commissioners_and_applicants_get_404(self):
        for person in (self.hugo, self.cora, self.dora):
            client = api_client_for(person)
            self.assertEqual(client.get(f"/api/listings/{self.offer.pk}/").status_code, 404)
            self.assertEqual(
                client.patch(f"/api/listings/{self.offer.pk}/", {"title": "x"}).status_code, 404
            )
            self.assertEqual(client.post(f"/api/listings/{self.offer.pk}/close/").status_code, 404)
            self.assertEqual(
                client.post(f"/api/listings/{self.offer.pk}/reply/", {"message": "hi"}).status_code,
                404,
            )
        self.assertEqual(
            api_client_for(self.alice).get("/api/listings/99999999999999999999999/").status_code,
            404,
        )
        self.assertEqual(api_client_for(self.alice).get("/api/listings/abc/").status_code, 404)

    def test_a_member_publishes_a_request(self):
        response = api_client_for(self.alice).post("/api/listings/", NEW, format="json")
        self.assertEqual(response.status_code, 201, response.json())
        body = response.json()
        self.assertEqual(
            (body["kind"], body["category"]["slug"], body["owner"]["name"]),
            ("request", "shopping-and-errands", "Alice Archer"),
        )
        self.assertTrue(body["is_open"])

    def test_a_representative_publishes_for_the_organisation_and_a_broker_for_an_offline_member(
        self,
    ):
        response = api_client_for(self.alice).post(
            "/api/listings/", {**NEW, "organisation": self.gp.pk}, format="json"
        )
        self.assertEqual(response.json()["owner"]["name"], "Riverside GP Surgery")
        response = api_client_for(self.brenda).post(
            "/api/listings/", {**NEW, "person": self.olive.pk}, format="json"
        )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(Listing.objects.get(pk=response.json()["id"]).created_by, self.brenda)

    def test_a_member_cannot_publish_for_another_member_or_an_organisation_they_do_not_represent(
        self,
    ):
        bob = api_client_for(self.bob)
        self.assertEqual(
            bob.post("/api/listings/", {**NEW, "person": self.alice.pk}, format="json").status_code,
            403,
        )
        self.assertEqual(
            bob.post(
                "/api/listings/", {**NEW, "organisation": self.gp.pk}, format="json"
            ).status_code,
            403,
        )

    def test_publishing_in_a_bank_you_are_not_in_is_a_400_naming_the_field(self):
        for person in (self.hugo, self.dora, self.cora):
            response = api_client_for(person).post("/api/listings/", NEW, format="json")
            self.assertEqual(response.status_code, 400)
            self.assertIn("time_bank", response.json())
        self.assertEqual(Listing.objects.count(), 2)

    def test_validation_errors_are_400_with_field_messages_and_unknown_fields_are_refused(self):
        alice = api_client_for(self.alice)
        cases = [
            ({**NEW, "kind": "barter"}, "kind"),
            ({**NEW, "category": "nope"}, "category"),
            ({**NEW, "title": ""}, "title"),
            ({**NEW, "title": "x" * 101}, "title"),
            ({**NEW, "expires_on": "2001-01-01"}, "expires_on"),
            ({**NEW, "expires_on": "soon"}, "expires_on"),
            ({**NEW, "owner_email": "x@example.org"}, "owner_email"),
            ({**NEW, "organisation": 99999}, "organisation"),
            ({**NEW, "person": "abc"}, "person"),
            ({k: v for k, v in NEW.items() if k != "time_bank"}, "time_bank"),
        ]
        for body, field in cases:
            with self.subTest(field=field):
                response = alice.post("/api/listings/", body, format="json")
                self.assertEqual(response.status_code, 400)
                self.assertIn(field, response.json())
        self.assertEqual(alice.post("/api/listings/", [1, 2], format="json").status_code, 400)
        self.assertEqual(
            alice.post("/api/listings/", "not json", content_type="application/json").status_code,
            400,
        )
        self.assertEqual(Listing.objects.count(), 2)

    def test_the_owner_updates_closes_and_renews_and_other_members_get_403(self):
        bob, alice = api_client_for(self.bob), api_client_for(self.alice)
        self.assertEqual(
            alice.patch(
                f"/api/listings/{self.offer.pk}/", {"title": "Mine"}, format="json"
            ).status_code,
            403,
        )
        self.assertEqual(alice.post(f"/api/listings/{self.offer.pk}/close/").status_code, 403)
        response = bob.patch(
            f"/api/listings/{self.offer.pk}/", {"title": "Phone help"}, format="json"
        )
        self.assertEqual(response.json()["title"], "Phone help")
        self.assertEqual(response.json()["category"]["slug"], "computers-and-phones")
        self.assertEqual(
            bob.post(f"/api/listings/{self.offer.pk}/close/").json()["state"], "closed"
        )
        self.assertEqual(bob.post(f"/api/listings/{self.offer.pk}/renew/").json()["state"], "open")
        brenda = api_client_for(self.brenda)
        self.assertEqual(brenda.post(f"/api/listings/{self.offer.pk}/close/").status_code, 200)

    def test_an_update_cannot_move_a_listing_to_another_owner_or_bank(self):
        response = api_client_for(self.bob).patch(
            f"/api/listings/{self.offer.pk}/",
            {"person": self.alice.pk, "colour": "red"},
            format="json",
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("colour", response.json())
        response = api_client_for(self.bob).patch(
            f"/api/listings/{self.offer.pk}/", {"person": self.alice.pk}, format="json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("person", response.json())

    def test_a_put_needs_every_required_field(self):
        response = api_client_for(self.bob).put(
            f"/api/listings/{self.offer.pk}/", {"title": "x"}, format="json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("kind", response.json())

    def test_mine_lists_my_own_including_closed(self):
        listings.close_listing(listing=self.offer, editor=self.bob)
        bob = api_client_for(self.bob)
        self.assertEqual(bob.get("/api/listings/").json()["count"], 0)
        self.assertEqual(bob.get("/api/listings/", {"mine": "true"}).json()["count"], 1)

    def test_replying_emails_the_owner_after_commit_and_records_a_contact(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = api_client_for(self.alice).post(
                f"/api/listings/{self.offer.pk}/reply/", {"message": "Happy to help"}, format="json"
            )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["to"], "Bob Baker")
        self.assertEqual(mail.outbox[0].to, [user_of(self.bob).email])
        self.assertNotIn(user_of(self.alice).email, mail.outbox[0].body)
        self.assertEqual(Contact.objects.get().from_person, self.alice)

    def test_bad_replies_are_400(self):
        alice = api_client_for(self.alice)
        url = f"/api/listings/{self.offer.pk}/reply/"
        self.assertIn("message", alice.post(url, {}, format="json").json())
        self.assertIn("cc", alice.post(url, {"message": "hi", "cc": "me"}, format="json").json())
        self.assertEqual(
            alice.post(url, {"message": "hi", "to_person": 999999}, format="json").status_code, 400
        )
        self.assertEqual(
            api_client_for(self.bob).post(url, {"message": "me"}, format="json").status_code, 400
        )
        self.assertFalse(Contact.objects.exists())

    def test_categories_are_listed(self):
        body = api_client_for(self.alice).get("/api/categories/").json()
        self.assertIn(
            {"name": "Gardening", "slug": "gardening"},
            [{"name": c["name"], "slug": c["slug"]} for c in body],
        )

    def test_the_schema_documents_the_listing_endpoints(self):
        schema = api_client_for(None).get("/api/schema/")
        self.assertEqual(schema.status_code, 200)
        for path in (b"/api/listings/", b"/api/listings/{id}/reply/", b"/api/categories/"):
            self.assertIn(path, schema.content)
