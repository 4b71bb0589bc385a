from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import Note
from tests.base import CastTestCase
from tests.factories import make_member
from tests.listings.support import make_capability, make_listing
from tests.support import user_of


class MemberSearch(CastTestCase):
    def test_only_the_banks_brokers_may_search_its_members(self):
        url = reverse("member-search", args=["riverside"])
        for person, code in {
            self.brenda: 200,
            self.alice: 403,
            self.cora: 403,
            self.dora: 403,
            self.hugo: 403,
        }.items():
            self.client.force_login(user_of(person))
            self.assertEqual(self.client.get(url).status_code, code, person)
        self.client.logout()
        self.assertEqual(self.client.get(url).status_code, 302)

    def test_the_broker_searches_by_name_area_and_status(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("member-search", args=["riverside"])

        def names(**params):
            return [m.person.display_name for m in self.client.get(url, params).context["page"]]

        self.assertEqual(names(name="ali"), ["Alice Archer"])
        self.assertEqual(names(area="gl51"), ["Bob Baker"])
        self.assertEqual(names(status="applied"), ["Dora Applicant"])
        self.assertNotIn("Hugo Hillside", names())

    def test_a_bad_status_is_a_form_error_not_a_500(self):
        self.client.force_login(user_of(self.brenda))
        response = self.client.get(
            reverse("member-search", args=["riverside"]), {"status": "royal", "page": "-3"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("status", response.context["form"].errors)

    def test_the_search_page_runs_the_same_number_of_queries_however_many_members(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("member-search", args=["riverside"])
        self.client.get(url)
        with CaptureQueriesContext(connection) as before:
            self.client.get(url)
        for n in range(30):
            make_member(self.riverside, f"Member {n:02}", offline=n % 3 == 0)
        with self.assertNumQueries(len(before)):
            response = self.client.get(url)
        self.assertEqual(len(response.context["page"]), 36)
        self.assertEqual(len(before), 6)


class MemberPage(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        make_capability(
            cls.riverside, cls.olive, "Knitting for babies", category_slug="sewing-and-knitting"
        )
        make_listing(cls.riverside, cls.olive, "Knitting lessons", author=cls.brenda)
        Note.objects.create(
            person=cls.olive,
            time_bank=cls.riverside,
            author=cls.brenda,
            text="Prefers calls after 10.",
        )

    def url(self, person):
        return reverse("member-page", args=["riverside", person.pk])

    def test_the_broker_sees_profile_capabilities_listings_notes_and_the_hours_placeholder(self):
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(self.url(self.olive))
        for text in (
            "Olive Offline",
            "no login",
            "Knitting for babies",
            "Knitting lessons",
            "Prefers calls after 10.",
            'id="hours"',
        ):
            self.assertContains(page, text)

    def test_nobody_but_the_banks_brokers_sees_the_page_or_its_notes(self):
        for person in (self.alice, self.bob, self.cora, self.dora, self.hugo):
            self.client.force_login(user_of(person))
            response = self.client.get(self.url(self.olive))
            self.assertEqual(response.status_code, 403, person)
            self.assertNotContains(response, "Prefers calls", status_code=403)

    def test_a_person_outside_the_bank_is_a_404_for_its_broker(self):
        self.client.force_login(user_of(self.brenda))
        self.assertEqual(self.client.get(self.url(self.harry)).status_code, 404)

    def test_a_broker_adds_a_private_note(self):
        self.client.force_login(user_of(self.brenda))
        response = self.client.post(self.url(self.bob), {"text": "Called about a lift."})
        self.assertRedirects(response, self.url(self.bob))
        note = Note.objects.get(person=self.bob)
        self.assertEqual((note.author, note.time_bank), (self.brenda, self.riverside))

    def test_an_empty_note_is_a_form_error_and_others_cannot_post_notes(self):
        self.client.force_login(user_of(self.brenda))
        response = self.client.post(self.url(self.bob), {"text": "  "})
        self.assertEqual(response.status_code, 200)
        self.assertIn("text", response.context["note_form"].errors)
        self.client.force_login(user_of(self.alice))
        self.assertEqual(self.client.post(self.url(self.bob), {"text": "hi"}).status_code, 403)
        self.assertFalse(Note.objects.filter(person=self.bob).exists())
