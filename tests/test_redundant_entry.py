"""No re-asking (WCAG 2.2 SC 3.3.7 Redundant Entry): what a person already gave is filled in."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from exchanges.models import Exchange
from ledger import services as ledger
from ledger.models import Account
from listings import services as listings
from listings.models import Category, Listing, ListingKind
from members.models import ContactPreference, Person, TimeBank
from tests.base import CastTestCase
from tests.support import PageResponse, user_of


def publish(person: Person, bank: TimeBank, kind: str, title: str) -> Listing:
    return listings.publish_listing(
        author=person,
        time_bank=bank,
        details=listings.ListingDetails(
            kind=kind, category=Category.objects.order_by("pk").first(), title=title
        ),
    )


class RecordingAnExchange(CastTestCase):
    alice_account: Account
    bob_account: Account
    category: Category

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        cls.category = Category.objects.order_by("pk")[2]

    def setUp(self) -> None:
        self.client.force_login(user_of(self.alice))

    def values(self, **changes: object) -> dict[str, object]:
        return {
            "direction": "received",
            "other": self.bob_account.pk,
            "effective_date": (timezone.localdate() - timedelta(days=2)).isoformat(),
            "minutes": "1.75",
            "description": "Fixed my laptop",
            "category": self.category.pk,
            "idempotency_key": "key-1",
            **changes,
        }

    def assert_form_keeps(self, response: PageResponse, values: dict[str, object]) -> None:
        form = response.context["form"]
        self.assertTrue(form.errors)
        for name, value in values.items():
            with self.subTest(field=name):
                self.assertEqual(str(form[name].value()), str(value))
        html = response.content.decode()
        self.assertIn('value="received" required id="id_direction_1" checked', html)
        self.assertIn(f'<option value="{self.bob_account.pk}" selected>', html)
        self.assertIn(f'<option value="{self.category.pk}" selected>', html)
        self.assertIn('value="Fixed my laptop"', html)
        self.assertIn('value="1.75"', html)

    def test_after_a_field_error_the_form_keeps_every_value(self) -> None:
        future = (timezone.localdate() + timedelta(days=2)).isoformat()
        values = self.values(effective_date=future)
        response = self.client.post(reverse("record-exchange", args=["riverside"]), values)
        self.assertEqual(response.status_code, 200)
        self.assertIn("effective_date", response.context["form"].errors)
        self.assert_form_keeps(response, values)

    def test_after_a_refusal_by_the_rules_the_form_keeps_every_value(self) -> None:
        self.riverside.max_exchange_minutes = 60
        self.riverside.save(update_fields=["max_exchange_minutes"])
        values = self.values()
        response = self.client.post(reverse("record-exchange", args=["riverside"]), values)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "One exchange can be at most 1 hour.")
        self.assert_form_keeps(response, values)
        self.assertFalse(Exchange.objects.exists())

    def test_recording_from_an_offer_fills_in_who_helped_and_that_you_received(self) -> None:
        offer = publish(self.bob, self.riverside, ListingKind.OFFER, "Computer help")
        url = reverse("record-exchange", args=["riverside"]) + f"?listing={offer.pk}"
        form = self.client.get(url).context["form"]
        self.assertEqual(form["other"].value(), self.bob_account.pk)
        self.assertEqual(form["direction"].value(), "received")
        self.assertEqual(form["description"].value(), "Computer help")

    def test_recording_from_a_request_fills_in_who_asked_and_that_you_gave(self) -> None:
        request = publish(self.bob, self.riverside, ListingKind.REQUEST, "A lift to the GP")
        url = reverse("record-exchange", args=["riverside"]) + f"?listing={request.pk}"
        form = self.client.get(url).context["form"]
        self.assertEqual(form["other"].value(), self.bob_account.pk)
        self.assertEqual(form["direction"].value(), "gave")

    def test_a_broker_recording_from_a_request_has_the_receiver_filled_in(self) -> None:
        request = publish(self.bob, self.riverside, ListingKind.REQUEST, "A lift to the GP")
        self.client.force_login(user_of(self.brenda))
        url = reverse("record-exchange", args=["riverside"]) + f"?listing={request.pk}"
        form = self.client.get(url).context["form"]
        self.assertEqual(form["receiver"].value(), self.bob_account.pk)
        self.assertIsNone(form["giver"].value())


class ApplyingToASecondTimeBank(CastTestCase):
    def test_the_profile_and_the_referees_given_before_are_filled_in(self) -> None:
        self.alice.phone = "01632 960 001"
        self.alice.save(update_fields=["phone"])
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("apply", args=["hillside"]))
        form = response.context["form"]
        self.assertEqual(form["display_name"].value(), "Alice Archer")
        self.assertEqual(form["area"].value(), "GL50")
        self.assertEqual(form["phone"].value(), "01632 960 001")
        self.assertEqual(form["referee_1_name"].value(), "Ref One")
        self.assertEqual(form["referee_1_contact"].value(), "01234 567890")
        self.assertEqual(form["referee_2_name"].value(), "Ref Two")
        self.assertEqual(form["referee_2_contact"].value(), "ref2@example.org")
        # The email given at sign-up is never asked again.
        self.assertNotIn("email", form.fields)

    def test_a_first_application_asks_for_referees(self) -> None:
        from tests.factories import make_user

        self.client.force_login(make_user("new@example.org"))
        form = self.client.get(reverse("apply", args=["hillside"])).context["form"]
        self.assertIsNone(form["referee_1_name"].value())
        self.assertNotIn("email", form.fields)


class ReplyingToAListing(CastTestCase):
    request: Listing

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.request = publish(cls.bob, cls.riverside, ListingKind.REQUEST, "A lift to the GP")

    def reply_message(self) -> str:
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("listing-detail", args=[self.request.pk]))
        return response.context["reply_form"]["message"].value() or ""

    def test_a_member_who_likes_a_phone_call_has_their_number_filled_in(self) -> None:
        self.alice.contact_preference = ContactPreference.PHONE
        self.alice.phone = "01632 960 001"
        self.alice.share_phone = True  # a number she keeps private is never filled in
        self.alice.save(update_fields=["contact_preference", "phone", "share_phone"])
        self.assertEqual(self.reply_message(), "You can phone me on 01632 960 001.")

    def test_a_member_who_goes_through_their_broker_says_so(self) -> None:
        self.alice.contact_preference = ContactPreference.BROKER
        self.alice.save(update_fields=["contact_preference"])
        self.assertEqual(self.reply_message(), "Please reach me through our broker.")

    def test_by_email_nothing_is_added_since_answers_come_through_the_site(self) -> None:
        self.assertEqual(self.reply_message(), "")


class ABrokerPublishingForAMember(CastTestCase):
    def test_the_members_own_area_is_filled_in(self) -> None:
        self.olive.area = "GL53"
        self.olive.save(update_fields=["area"])
        self.client.force_login(user_of(self.brenda))
        url = reverse("listing-new", args=["riverside"]) + f"?for={self.olive.pk}"
        form = self.client.get(url).context["form"]
        self.assertEqual(form["owner"].value(), f"person:{self.olive.pk}")
        self.assertEqual(form["area"].value(), "GL53")

    def test_a_member_cannot_read_another_members_area_this_way(self) -> None:
        self.client.force_login(user_of(self.alice))
        url = reverse("listing-new", args=["riverside"]) + f"?for={self.bob.pk}"
        form = self.client.get(url).context["form"]
        self.assertEqual(form["area"].value(), "GL50")
