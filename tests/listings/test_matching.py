from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from listings import services as listings
from listings.matching import matches_for
from listings.models import Contact, ContactKind, Listing
from members.models import Person
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of

from .support import make_capability, make_listing


class RankingMatches(CastTestCase):
    request: Listing
    gardener: Person
    wordy: Person
    neighbour: Person
    stranger: Person
    far: Person

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # alice asks for help with her hedge in GL50.
        cls.request = make_listing(
            cls.riverside,
            cls.alice,
            "Trim my hedge",
            kind="request",
            description="A tall privet hedge",
            area="GL50",
        )
        # category: gardening capability, nothing else in common.
        cls.gardener = make_member(cls.riverside, "Gary Gardener", area="GL99")
        make_capability(cls.riverside, cls.gardener, "Mowing lawns", category_slug="gardening")
        # words: shares "hedge" and "privet" in another category.
        cls.wordy = make_member(cls.riverside, "Wendy Words", area="GL98")
        make_listing(
            cls.riverside,
            cls.wordy,
            "Privet hedge cutting tools to lend",
            category_slug="diy-and-repairs",
        )
        # area only.
        cls.neighbour = make_member(cls.riverside, "Nora Neighbour", area="GL50")
        make_capability(cls.riverside, cls.neighbour, "Baking", category_slug="cooking-and-baking")
        # nothing in common: not listed.
        cls.stranger = make_member(cls.riverside, "Sam Stranger", area="GL97")
        # someone in another bank with the same category: never listed.
        cls.far = make_member(cls.hillside, "Fay Faraway", area="GL50")
        make_capability(cls.hillside, cls.far, "Hedge trimming", category_slug="gardening")

    def test_category_match_ranks_above_word_match_above_area_match(self):
        names = [m.person.display_name for m in matches_for(self.request)]
        self.assertEqual(names, ["Gary Gardener", "Wendy Words", "Nora Neighbour"])

    def test_the_requester_and_people_of_other_banks_are_never_suggested(self):
        make_capability(self.riverside, self.alice, "Hedges", category_slug="gardening")
        names = {m.person.display_name for m in matches_for(self.request)}
        self.assertNotIn("Alice Archer", names)
        self.assertNotIn("Fay Faraway", names)
        self.assertNotIn("Sam Stranger", names)

    def test_more_shared_words_rank_higher_within_a_category(self):
        one = make_member(self.riverside, "One Word")
        make_capability(self.riverside, one, "hedge", category_slug="gardening")
        two = make_member(self.riverside, "Two Words")
        make_capability(self.riverside, two, "privet hedges", category_slug="gardening")
        names = [m.person.display_name for m in matches_for(self.request)]
        self.assertLess(names.index("Two Words"), names.index("One Word"))
        self.assertLess(names.index("One Word"), names.index("Gary Gardener"))

    def test_matching_takes_the_same_number_of_queries_however_many_members(self):
        request = type(self.request).objects.with_owner().get(pk=self.request.pk)
        with CaptureQueriesContext(connection) as before:
            matches_for(request)
        for n in range(15):
            person = make_member(self.riverside, f"Helper {n}", area="GL50")
            make_capability(self.riverside, person, "hedge", category_slug="gardening")
            make_listing(self.riverside, person, f"Garden offer {n}")
        with self.assertNumQueries(len(before)):
            self.assertGreater(len(matches_for(request)), 15)
        self.assertEqual(len(before), 3)


class TheMatchesPage(CastTestCase):
    request: Listing

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.request = make_listing(
            cls.riverside,
            cls.alice,
            "Lift to the hospital",
            kind="request",
            category_slug="lifts-and-transport",
        )
        make_capability(cls.riverside, cls.bob, "I drive", category_slug="lifts-and-transport")
        make_capability(
            cls.riverside, cls.olive, "Lifts in my car", category_slug="lifts-and-transport"
        )

    def test_only_the_banks_brokers_see_matches_others_are_refused(self):
        url = reverse("listing-matches", args=[self.request.pk])
        expected = {
            self.brenda: 200,
            self.alice: 403,
            self.bob: 403,
            self.cora: 404,
            self.dora: 404,
            self.hugo: 404,
        }
        for person, code in expected.items():
            self.client.force_login(user_of(person))
            self.assertEqual(self.client.get(url).status_code, code, person)
        self.client.logout()
        self.assertEqual(self.client.get(url).status_code, 302)

    def test_the_broker_sees_the_ranked_list_with_reasons(self):
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(reverse("listing-matches", args=[self.request.pk]))
        self.assertContains(page, "Bob Baker")
        self.assertContains(page, "I do this: I drive")
        self.assertContains(page, "No email: phone them")

    def test_introducing_logs_a_contact_and_emails_both_sides_without_addresses(self):
        self.client.force_login(user_of(self.brenda))
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("listing-introduce", args=[self.request.pk, self.bob.pk]),
                {"message": "Bob drives on Thursdays."},
            )
        self.assertRedirects(response, reverse("listing-matches", args=[self.request.pk]))
        contact = Contact.objects.get()
        self.assertEqual(contact.kind, ContactKind.INTRODUCTION)
        self.assertEqual(
            (contact.listing, contact.from_person, contact.to_person, contact.made_by),
            (self.request, self.bob, self.alice, self.brenda),
        )
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox),
            sorted([user_of(self.alice).email, user_of(self.bob).email]),
        )
        for email in mail.outbox:
            other = self.bob if email.to == [user_of(self.alice).email] else self.alice
            self.assertIn(other.display_name, email.body)
            self.assertNotIn(user_of(other).email, email.body)
            self.assertNotIn(user_of(self.brenda).email, email.body)
            self.assertIn("Bob drives on Thursdays.", email.body)
            self.assertEqual(email.reply_to, [])
        page = self.client.get(reverse("listing-matches", args=[self.request.pk]))
        self.assertContains(page, "Introduced")

    def test_introducing_an_offline_member_sends_one_email_and_tells_the_broker_to_phone(self):
        self.client.force_login(user_of(self.brenda))
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("listing-introduce", args=[self.request.pk, self.olive.pk]), follow=True
            )
        self.assertContains(response, "Olive Offline has no email: please phone them.")
        self.assertEqual([m.to for m in mail.outbox], [[user_of(self.alice).email]])
        self.assertTrue(
            Contact.objects.filter(kind="introduction", from_person=self.olive).exists()
        )

    def test_nobody_but_the_banks_broker_can_introduce(self):
        url = reverse("listing-introduce", args=[self.request.pk, self.bob.pk])
        for person, code in {
            self.alice: 403,
            self.bob: 403,
            self.cora: 404,
            self.hugo: 404,
        }.items():
            self.client.force_login(user_of(person))
            self.assertEqual(self.client.post(url).status_code, code, person)
        self.assertFalse(Contact.objects.exists())
        self.assertEqual(mail.outbox, [])

    def test_introducing_the_requester_or_someone_outside_the_bank_is_refused(self):
        self.client.force_login(user_of(self.brenda))
        self.client.post(reverse("listing-introduce", args=[self.request.pk, self.alice.pk]))
        response = self.client.post(
            reverse("listing-introduce", args=[self.request.pk, self.harry.pk])
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(Contact.objects.exists())

    def test_an_offer_or_a_closed_request_cannot_be_introduced(self):
        offer = make_listing(self.riverside, self.bob, "Lifts")
        listings.close_listing(listing=self.request, editor=self.alice)
        self.client.force_login(user_of(self.brenda))
        for listing in (offer, self.request):
            response = self.client.post(
                reverse("listing-introduce", args=[listing.pk, self.olive.pk]), follow=True
            )
            self.assertContains(response, "Only an open request can be matched.")
        self.assertFalse(Contact.objects.exists())
