import datetime

import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from listings import services as listings
from listings.models import Category, Listing, ListingState
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of
from timebank.dates import add_months

from .support import category, make_listing

NEW_OFFER = {
    "kind": "offer",
    "category": "",  # filled in setUp with a real pk
    "title": "Lifts to the GP",
    "description": "I have a car and free mornings.",
    "area": "GL50",
    "availability": "Weekday mornings",
    "expires_on": "",
}


class Categories(CastTestCase):
    def test_the_data_migration_seeds_a_community_mix_of_categories(self):
        slugs = set(Category.objects.values_list("slug", flat=True))
        for slug in ("gardening", "lifts-and-transport", "computers-and-phones", "pets", "other"):
            self.assertIn(slug, slugs)
        self.assertEqual(Category.objects.count(), 15)


class PublishingListings(CastTestCase):
    def setUp(self):
        self.form = {**NEW_OFFER, "category": category("lifts-and-transport").pk}

    @time_machine.travel(datetime.date(2026, 1, 31), tick=False)
    def test_a_member_publishes_an_offer_which_expires_after_the_banks_listing_months(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(reverse("listing-new", args=["riverside"]), self.form)
        listing = Listing.objects.get()
        self.assertRedirects(response, reverse("listing-detail", args=[listing.pk]))
        self.assertEqual(listing.person, self.alice)
        self.assertEqual(listing.created_by, self.alice)
        # Three months from 31 January is the last day of April.
        self.assertEqual(listing.expires_on, datetime.date(2026, 4, 30))
        self.assertEqual(listing.state, ListingState.OPEN)

    def test_a_representative_publishes_for_their_organisation(self):
        self.client.force_login(user_of(self.alice))
        page = self.client.get(reverse("listing-new", args=["riverside"]))
        self.assertContains(page, "Riverside GP Surgery")
        self.client.post(
            reverse("listing-new", args=["riverside"]),
            {**self.form, "owner": f"organisation:{self.gp.pk}"},
        )
        listing = Listing.objects.get()
        self.assertEqual(listing.organisation, self.gp)
        self.assertIsNone(listing.person)

    def test_a_member_who_does_not_represent_an_organisation_cannot_publish_for_it(self):
        with self.assertRaises(PermissionDenied):
            make_listing(self.riverside, self.bob, for_organisation=self.gp, author=self.bob)
        # The web form does not even offer the choice: what bob publishes is his own.
        self.client.force_login(user_of(self.bob))
        self.client.post(
            reverse("listing-new", args=["riverside"]),
            {**self.form, "owner": f"organisation:{self.gp.pk}"},
        )
        self.assertFalse(Listing.objects.filter(organisation=self.gp).exists())

    def test_a_broker_publishes_for_an_offline_member(self):
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("listing-new", args=["riverside"]))
        self.assertContains(page, "Olive Offline (no login)")
        self.client.post(
            reverse("listing-new", args=["riverside"]),
            {**self.form, "owner": f"person:{self.olive.pk}"},
        )
        listing = Listing.objects.get()
        self.assertEqual(listing.person, self.olive)
        self.assertEqual(listing.created_by, self.brenda)

    def test_a_member_cannot_publish_for_another_member(self):
        with self.assertRaises(PermissionDenied):
            make_listing(self.riverside, self.bob, author=self.alice)

    def test_a_broker_cannot_publish_for_a_member_of_another_bank(self):
        with self.assertRaises(ValidationError):
            make_listing(self.riverside, self.harry, author=self.brenda)

    def test_applicants_commissioners_and_outsiders_cannot_publish(self):
        for person in (self.dora, self.cora, self.hugo):
            self.client.force_login(user_of(person))
            response = self.client.post(reverse("listing-new", args=["riverside"]), self.form)
            self.assertEqual(response.status_code, 403, person)
        self.assertFalse(Listing.objects.exists())

    def test_anonymous_visitors_are_sent_to_sign_in(self):
        response = self.client.get(reverse("listing-new", args=["riverside"]))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("account_login"), response["Location"])

    def test_a_form_with_missing_or_bad_values_shows_errors_and_saves_nothing(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("listing-new", args=["riverside"]),
            {
                **self.form,
                "title": "",
                "kind": "barter",
                "category": "999999",
                "expires_on": "soon",
            },
        )
        self.assertEqual(response.status_code, 200)
        errors = response.context["form"].errors
        self.assertEqual(set(errors), {"title", "kind", "category", "expires_on"})
        self.assertFalse(Listing.objects.exists())

    def test_an_expiry_in_the_past_is_refused_with_a_form_error(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("listing-new", args=["riverside"]), {**self.form, "expires_on": "2001-01-01"}
        )
        self.assertContains(response, "Please choose a date from today onwards.")
        self.assertFalse(Listing.objects.exists())

    def test_the_database_refuses_a_listing_with_two_owners_or_none(self):
        base = dict(
            time_bank=self.riverside,
            kind="offer",
            category=category("pets"),
            title="Dog walking",
            expires_on=datetime.date(2030, 1, 1),
            created_by=self.alice,
        )
        for owners in ({}, {"person": self.alice, "organisation": self.gp}):
            with self.subTest(owners=owners), transaction.atomic():
                with self.assertRaises(IntegrityError):
                    Listing.objects.create(**base, **owners)


class ChangingListings(CastTestCase):
    offer: Listing
    gp_request: Listing

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.offer = make_listing(
            cls.riverside, cls.bob, "Computer help", category_slug="computers-and-phones"
        )
        cls.gp_request = make_listing(
            cls.riverside, cls.alice, "Volunteer drivers", kind="request", for_organisation=cls.gp
        )

    def test_the_owner_and_the_broker_may_edit_renew_and_close_and_other_members_may_not(self):
        expected = {
            self.bob: 200,
            self.brenda: 200,
            self.alice: 403,
            self.hugo: 404,
            self.cora: 404,
            self.dora: 404,
        }
        for person, code in expected.items():
            self.client.force_login(user_of(person))
            with self.subTest(person=person.display_name):
                self.assertEqual(
                    self.client.get(reverse("listing-edit", args=[self.offer.pk])).status_code, code
                )
                renew = self.client.post(reverse("listing-renew", args=[self.offer.pk]))
                self.assertEqual(renew.status_code, 302 if code == 200 else code)
                close = self.client.post(reverse("listing-close", args=[self.offer.pk]))
                self.assertEqual(close.status_code, 302 if code == 200 else code)

    def test_a_representative_edits_and_closes_the_organisations_listing(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("listing-edit", args=[self.gp_request.pk]),
            {
                "kind": "request",
                "category": category("lifts-and-transport").pk,
                "title": "Volunteer drivers for clinics",
                "description": "",
                "area": "GL50",
                "availability": "",
                "expires_on": "",
            },
        )
        self.assertRedirects(response, reverse("listing-detail", args=[self.gp_request.pk]))
        self.gp_request.refresh_from_db()
        self.assertEqual(self.gp_request.title, "Volunteer drivers for clinics")
        self.client.post(reverse("listing-close", args=[self.gp_request.pk]))
        self.gp_request.refresh_from_db()
        self.assertEqual(self.gp_request.state, ListingState.CLOSED)

    def test_renewing_extends_from_the_later_of_today_and_the_expiry_and_reopens(self):
        with time_machine.travel(datetime.date(2026, 3, 1), tick=False):
            listings.close_listing(listing=self.offer, editor=self.bob)
            renewed = listings.renew_listing(listing=self.offer, editor=self.bob)
        self.assertEqual(renewed.state, ListingState.OPEN)
        self.assertEqual(renewed.expires_on, add_months(self.offer.expires_on, 3))
        with time_machine.travel(datetime.date(2040, 5, 15), tick=False):
            renewed = listings.renew_listing(listing=self.offer, editor=self.bob)
        self.assertEqual(renewed.expires_on, datetime.date(2040, 8, 15))

    def test_a_non_numeric_or_huge_listing_id_is_a_404_not_a_500(self):
        self.client.force_login(user_of(self.bob))
        self.assertEqual(self.client.get("/listings/abc/").status_code, 404)
        self.assertEqual(self.client.get("/listings/99999999999999999999999/").status_code, 404)


class BrowsingListings(CastTestCase):
    garden: Listing
    shopping: Listing
    closed: Listing
    elsewhere: Listing

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.garden = make_listing(
            cls.riverside,
            cls.bob,
            "Help with the garden",
            description="Hedges and lawns",
            area="GL51",
        )
        cls.shopping = make_listing(
            cls.riverside,
            cls.olive,
            "Weekly shopping",
            kind="request",
            category_slug="shopping-and-errands",
            area="GL52",
            author=cls.brenda,
        )
        cls.closed = make_listing(cls.riverside, cls.bob, "Old offer")
        listings.close_listing(listing=cls.closed, editor=cls.bob)
        cls.elsewhere = make_listing(cls.hillside, cls.hugo, "Hillside piano lessons")

    def browse(self, person, **params):
        self.client.force_login(person.user)
        return self.client.get(reverse("listings", args=["riverside"]), params)

    def titles(self, response):
        return [listing.title for listing in response.context["page"]]

    def test_members_and_brokers_see_open_listings_of_their_bank_only(self):
        for person in (self.alice, self.brenda):
            response = self.browse(person)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(self.titles(response), ["Weekly shopping", "Help with the garden"])

    def test_applicants_commissioners_and_outsiders_are_refused_and_anonymous_sent_to_sign_in(self):
        for person in (self.dora, self.cora, self.hugo):
            self.assertEqual(self.browse(person).status_code, 403, person)
        self.client.logout()
        response = self.client.get(reverse("listings", args=["riverside"]))
        self.assertEqual(response.status_code, 302)

    def test_an_unknown_bank_is_a_404(self):
        self.client.force_login(user_of(self.alice))
        self.assertEqual(self.client.get(reverse("listings", args=["nowhere"])).status_code, 404)

    def test_filters_by_kind_category_keyword_and_area(self):
        self.assertEqual(self.titles(self.browse(self.alice, kind="request")), ["Weekly shopping"])
        self.assertEqual(
            self.titles(self.browse(self.alice, category="gardening")), ["Help with the garden"]
        )
        self.assertEqual(self.titles(self.browse(self.alice, q="HEDGES")), ["Help with the garden"])
        self.assertEqual(self.titles(self.browse(self.alice, area="gl52")), ["Weekly shopping"])
        self.assertEqual(self.titles(self.browse(self.alice, q="hedges shopping")), [])

    def test_bad_filter_values_show_form_errors_not_a_500(self):
        response = self.browse(self.alice, kind="barter", category="no-such", page="zzz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(response.context["form"].errors), {"kind", "category"})

    def test_expired_listings_are_not_shown(self):
        with time_machine.travel(datetime.date.today() + datetime.timedelta(days=400)):
            self.assertEqual(self.titles(self.browse(self.alice)), [])

    def test_a_listing_shows_name_and_area_but_never_email_or_an_unshared_phone(self):
        self.bob.phone = "07700 900123"
        self.bob.save()
        self.client.force_login(user_of(self.alice))
        for url in (
            reverse("listings", args=["riverside"]),
            reverse("listing-detail", args=[self.garden.pk]),
        ):
            response = self.client.get(url)
            self.assertContains(response, "Bob Baker")
            self.assertContains(response, "GL51")
            self.assertNotContains(response, user_of(self.bob).email)
            self.assertNotContains(response, "07700 900123")

    def test_the_phone_is_shown_when_the_person_chose_to_share_it(self):
        self.bob.phone = "07700 900123"
        self.bob.share_phone = True
        self.bob.save()
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("listing-detail", args=[self.garden.pk]))
        self.assertContains(response, "07700 900123")

    def test_outsiders_commissioners_and_applicants_get_404_on_a_listing(self):
        for person in (self.hugo, self.cora, self.dora):
            self.client.force_login(user_of(person))
            response = self.client.get(reverse("listing-detail", args=[self.garden.pk]))
            self.assertEqual(response.status_code, 404, person)

    def test_the_browse_page_runs_the_same_number_of_queries_however_many_listings(self):
        self.client.force_login(user_of(self.alice))
        url = reverse("listings", args=["riverside"])
        self.client.get(url)  # warm up the session

        def count():
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(url).status_code, 200)
            return len(queries)

        before = count()
        for n in range(25):
            owner = make_member(self.riverside, f"Member {n}") if n % 5 == 0 else self.bob
            make_listing(self.riverside, owner, f"Offer {n}")
        make_listing(self.riverside, self.alice, "For the GP", for_organisation=self.gp)
        with self.assertNumQueries(before):
            response = self.client.get(url)
        self.assertEqual(len(response.context["page"]), 20)
        self.assertEqual(before, 7)

    def test_pages_follow_one_another_and_keep_the_filters(self):
        for n in range(25):
            make_listing(self.riverside, self.bob, f"Garden job {n}")
        first = self.browse(self.alice, q="garden")
        self.assertContains(first, "q=garden&amp;page=2")
        second = self.browse(self.alice, q="garden", page=2)
        self.assertEqual(len(second.context["page"]), 6)
