"""Review findings on acting for a member: who may never be acted for, acting confined to
the bank acted in, and what the broker may not do as the member (export, apply, see or
change the member's monitoring answers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from listings import services as listings
from listings.models import Category, ListingKind
from members.models import CommissionerGrant, ContactPreference, Membership, Person, Role, Status
from tests.base import CastTestCase
from tests.factories import enrol_in_mfa, make_member
from tests.support import user_of

ANSWERS: dict[str, Any] = {
    "age_band": "85_plus",
    "gender": "another_way",
    "disability": "yes",
    "carer": "no",
}
PROFILE = {
    "display_name": "Hetty Helped",
    "area": "GL52",
    "bio": "",
    "phone": "",
    "contact_preference": "broker",
}


class ActingLimits(CastTestCase):
    hetty: Person
    gardening: Category

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # Hetty has a login, asked for help through her broker, and trades in both banks.
        cls.hetty = make_member(
            cls.riverside,
            "Hetty Helped",
            contact_preference=ContactPreference.BROKER,
            **ANSWERS,
        )
        Membership.objects.create(
            person=cls.hetty,
            time_bank=cls.hillside,
            role=Role.MEMBER,
            status=Status.APPROVED,
            decided_by=cls.hugo,
            decided_at=timezone.now(),
        )
        cls.gardening = Category.objects.get(slug="gardening")

    def start(self, person: Person):
        self.client.force_login(user_of(self.brenda))
        return self.client.post(reverse("acting-start", args=["riverside", person.pk]))

    # --- Who may never be acted for ------------------------------------------------------------

    def assert_refused(self, person: Person) -> None:
        response = self.start(person)
        self.assertEqual(response.status_code, 403)
        self.assertNotIn("acting_for", self.client.session)

    def test_hetty_may_be_acted_for_as_a_plain_member_of_two_banks(self):
        self.assertRedirects(self.start(self.hetty), reverse("dashboard", args=["riverside"]))

    def test_nobody_with_a_broker_admin_or_commissioner_role_elsewhere(self):
        for role in (Role.BROKER, Role.ADMIN, Role.COMMISSIONER):
            with self.subTest(role=role):
                Membership.objects.filter(person=self.hetty, time_bank=self.hillside).update(
                    role=role
                )
                self.assert_refused(self.hetty)

    def test_nobody_with_a_commissioner_grant_in_force(self):
        CommissionerGrant.objects.create(
            person=self.hetty,
            time_bank=self.hillside,
            starts_on=timezone.localdate() - timedelta(days=1),
        )
        self.assert_refused(self.hetty)

    def test_nobody_who_is_staff_superuser_or_has_two_factor_sign_in(self):
        user = self.hetty.user
        for flag in ("is_staff", "is_superuser"):
            with self.subTest(flag=flag):
                type(user).objects.filter(pk=user.pk).update(**{flag: True})
                self.assert_refused(self.hetty)
                type(user).objects.filter(pk=user.pk).update(**{flag: False})
        enrol_in_mfa(user)
        self.assert_refused(self.hetty)

    # --- Confined to the bank acted in ---------------------------------------------------------

    def test_another_banks_pages_answer_403_with_a_plain_message(self):
        self.start(self.hetty)
        for name in ("dashboard", "listings", "statement", "member-search"):
            with self.subTest(page=name):
                response = self.client.get(reverse(name, args=["hillside"]))
                self.assertContains(
                    response,
                    "You are acting for Hetty Helped in Riverside Time Bank: stop acting to use "
                    "another time bank.",
                    status_code=403,
                )
        self.assertEqual(self.client.get(reverse("dashboard", args=["riverside"])).status_code, 200)

    def test_only_the_acting_banks_membership_and_listings_are_hers(self):
        hillside_offer = listings.publish_listing(
            author=self.hugo,
            time_bank=self.hillside,
            details=listings.ListingDetails(
                kind=ListingKind.OFFER, category=self.gardening, title="Hillside hedges"
            ),
        )
        self.start(self.hetty)
        home = self.client.get(reverse("home"))
        banks = {card["bank"].slug for card in home.context["cards"]}
        self.assertEqual(banks, {"riverside"})
        response = self.client.get(reverse("listing-detail", args=[hillside_offer.pk]))
        self.assertEqual(response.status_code, 404)

    # --- What the broker may not do as the member ----------------------------------------------

    def test_applying_while_acting_is_refused_and_the_brokers_profile_is_untouched(self):
        self.start(self.olive)
        response = self.client.post(
            reverse("apply", args=["hillside"]),
            {
                **PROFILE,
                "display_name": "Not Brenda",
                "referee_1_name": "A",
                "referee_1_contact": "a@example.org",
                "referee_2_name": "B",
                "referee_2_contact": "b@example.org",
                "agrees_to_code": "on",
            },
        )
        self.assertEqual(response.status_code, 403)
        self.brenda.refresh_from_db()
        self.assertEqual(self.brenda.display_name, "Brenda Broker")
        self.assertFalse(
            Membership.objects.filter(time_bank=self.hillside, person__in=[self.brenda, self.olive])
        )

    def test_apply_while_acting_in_the_same_bank_is_refused_too(self):
        self.start(self.olive)
        response = self.client.get(reverse("apply", args=["riverside"]))
        self.assertContains(response, "stop acting first", status_code=403)

    def test_the_profile_while_acting_for_hetty_leaves_her_monitoring_answers_alone(self):
        self.start(self.hetty)
        page = self.client.get(reverse("profile"))
        for name in ANSWERS:
            self.assertNotIn(name, page.context["form"].fields)
        self.assertNotContains(page, "85_plus")
        response = self.client.post(
            reverse("profile"),
            {**PROFILE, "area": "GL53", "age_band": "", "gender": "", "disability": "no"},
        )
        self.assertRedirects(response, reverse("dashboard", args=["riverside"]))
        self.hetty.refresh_from_db()
        self.assertEqual(self.hetty.area, "GL53")
        self.assertEqual({name: getattr(self.hetty, name) for name in ANSWERS}, ANSWERS)

    def test_for_olive_offline_the_broker_records_the_answers_she_gave(self):
        self.start(self.olive)
        self.assertIn("age_band", self.client.get(reverse("profile")).context["form"].fields)
        self.client.post(
            reverse("profile"),
            {**PROFILE, "display_name": "Olive Offline", "contact_preference": "email", **ANSWERS},
        )
        self.olive.refresh_from_db()
        self.assertEqual({name: getattr(self.olive, name) for name in ANSWERS}, ANSWERS)


class ListingAndReplyInput(CastTestCase):
    def test_a_non_ascii_digit_for_id_is_ignored_not_a_500(self):
        self.client.force_login(user_of(self.brenda))
        for value in ("²", "١٢", "9" * 40):
            with self.subTest(value=value):
                url = reverse("listing-new", args=["riverside"]) + f"?for={value}"
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertNotIn("owner", response.context["form"].initial)

    def test_a_reply_names_the_phone_only_if_the_member_shares_it(self):
        offer = listings.publish_listing(
            author=self.bob,
            time_bank=self.riverside,
            details=listings.ListingDetails(
                kind=ListingKind.OFFER,
                category=Category.objects.get(slug="gardening"),
                title="Lawn mowing",
            ),
        )
        Person.objects.filter(pk=self.alice.pk).update(
            contact_preference=ContactPreference.PHONE, phone="07700 900123", share_phone=False
        )
        self.client.force_login(user_of(self.alice))
        page = self.client.get(reverse("listing-detail", args=[offer.pk]))
        self.assertNotContains(page, "07700 900123")
        Person.objects.filter(pk=self.alice.pk).update(share_phone=True)
        page = self.client.get(reverse("listing-detail", args=[offer.pk]))
        self.assertContains(page, "You can phone me on 07700 900123.")
