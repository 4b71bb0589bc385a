from django.urls import reverse

from listings.models import Capability
from tests.base import CastTestCase
from tests.support import user_of

from .support import category, make_capability


def entry(slug="computers-and-phones", description="Setting up phones", level="share"):
    return {"category": category(slug).pk, "description": description, "level": level}


class EditingCapabilities(CastTestCase):
    def test_a_member_adds_what_they_do_to_their_profile_in_a_bank(self):
        self.client.force_login(user_of(self.alice))
        url = reverse("capabilities", args=["riverside"])
        response = self.client.post(url, entry())
        self.assertRedirects(response, url)
        capability = Capability.objects.get()
        self.assertEqual(
            (capability.person, capability.time_bank, capability.level),
            (self.alice, self.riverside, "share"),
        )
        self.assertContains(self.client.get(url), "willing to share or teach")

    def test_the_three_levels_of_the_needs_and_capabilities_assessment_are_offered(self):
        self.client.force_login(user_of(self.alice))
        page = self.client.get(reverse("capabilities", args=["riverside"]))
        for label in ("I do this", "I could with encouragement", "willing to share or teach"):
            self.assertContains(page, label)

    def test_a_broker_edits_a_members_and_an_offline_members_capabilities(self):
        self.client.force_login(user_of(self.brenda))
        for person in (self.bob, self.olive):
            url = reverse("member-capabilities", args=["riverside", person.pk])
            self.assertRedirects(self.client.post(url, entry(level="encouragement")), url)
        self.assertEqual(
            set(Capability.objects.values_list("person", flat=True)), {self.bob.pk, self.olive.pk}
        )

    def test_members_cannot_edit_each_other_and_outsiders_cannot_edit_anyone(self):
        url = reverse("member-capabilities", args=["riverside", self.bob.pk])
        for person, code in {
            self.alice: 403,
            self.cora: 403,
            self.dora: 403,
            self.hugo: 403,
        }.items():
            self.client.force_login(user_of(person))
            self.assertEqual(self.client.post(url, entry()).status_code, code, person)
        self.client.logout()
        self.assertEqual(self.client.get(url).status_code, 302)
        self.assertFalse(Capability.objects.exists())

    def test_a_broker_of_another_bank_or_a_person_outside_it_is_refused(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("member-capabilities", args=["riverside", self.harry.pk])
        self.assertEqual(self.client.get(url).status_code, 404)
        self.client.force_login(user_of(self.hugo))
        url = reverse("member-capabilities", args=["hillside", self.bob.pk])
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_removing_is_for_the_member_and_their_broker_only(self):
        capability = make_capability(self.riverside, self.bob, "Hedges", category_slug="gardening")
        url = reverse("capability-delete", args=[capability.pk])
        for person in (self.alice, self.hugo, self.cora):
            self.client.force_login(user_of(person))
            self.assertEqual(self.client.post(url).status_code, 404, person)
        self.client.force_login(user_of(self.brenda))
        self.assertRedirects(
            self.client.post(url), reverse("member-capabilities", args=["riverside", self.bob.pk])
        )
        self.assertFalse(Capability.objects.exists())
        mine = make_capability(self.riverside, self.bob, "Lawns", category_slug="gardening")
        self.client.force_login(user_of(self.bob))
        self.assertRedirects(
            self.client.post(reverse("capability-delete", args=[mine.pk])),
            reverse("capabilities", args=["riverside"]),
        )

    def test_bad_input_shows_form_errors(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.post(
            reverse("capabilities", args=["riverside"]),
            {"category": "nope", "description": "", "level": "expert"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(response.context["form"].errors), {"category", "description", "level"})
        self.assertFalse(Capability.objects.exists())
