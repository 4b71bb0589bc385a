"""Problem 10 of issue 22, in words: no form shows a "---------" choice, and nobody is asked
about "co-production" in those words."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from exchanges import services
from exchanges.models import CoProduction
from ledger import services as ledger
from ledger.templatetags.hours import balance_phrase
from members.models import Person
from tests.base import CastTestCase
from tests.support import user_of


class PlainWords(CastTestCase):
    def pages_with_choices(self) -> list[tuple[Person, str]]:
        return [
            (self.alice, reverse("listing-new", args=["riverside"])),
            (self.alice, reverse("capabilities", args=["riverside"])),
            (self.alice, reverse("profile")),
            (self.alice, reverse("apply", args=["hillside"])),
            (self.alice, reverse("record-exchange", args=["riverside"])),
            (self.brenda, reverse("record-exchange", args=["riverside"])),
            (self.brenda, reverse("record-group", args=["riverside"])),
            (self.brenda, reverse("add-offline-member", args=["riverside"])),
            (self.brenda, reverse("grant", args=["riverside"])),
            (self.alice, reverse("donate", args=["riverside"])),
        ]

    def test_no_form_offers_a_choice_labelled_with_dashes(self):
        for person, url in self.pages_with_choices():
            with self.subTest(url=url, person=person.display_name):
                self.client.force_login(person.user)
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertNotContains(response, "---------")

    def test_nobody_is_asked_about_co_production_in_those_words(self):
        for person, url in self.pages_with_choices():
            with self.subTest(url=url, person=person.display_name):
                self.client.force_login(person.user)
                text = self.client.get(url).content.decode().lower()
                self.assertNotIn("co-production", text)
                self.assertNotIn("co-delivery (", text)

    def test_a_member_is_not_asked_and_a_broker_is_asked_in_plain_words(self):
        self.client.force_login(user_of(self.alice))
        form = self.client.get(reverse("record-exchange", args=["riverside"])).context["form"]
        self.assertNotIn("coproduction", form.fields)
        self.client.force_login(user_of(self.brenda))
        response = self.client.get(reverse("record-exchange", args=["riverside"]))
        self.assertContains(response, "What was the help part of? (for reports to funders)")
        self.assertContains(response, "Helping to plan how a service works")

    def test_the_exchange_page_says_what_it_was_part_of_in_plain_words(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        exchange = services.record_exchange(
            recorded_by=self.brenda,
            giver=alice,
            receiver=bob,
            minutes=60,
            details=services.Details(
                effective_date=timezone.localdate(),
                description="Planning the lunch club",
                coproduction=CoProduction.DESIGN,
            ),
        )
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("exchange", args=[exchange.pk]))
        self.assertContains(response, "Helping to plan how a service works")
        self.assertNotContains(response, "Co-production")
        self.assertNotContains(response, "Co-design")

    def test_no_page_shows_a_balance_as_a_bare_negative_number(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        services.record_exchange(
            recorded_by=self.brenda,
            giver=bob,
            receiver=alice,
            minutes=90,
            details=services.Details(effective_date=timezone.localdate(), description="Lift"),
        )
        self.client.force_login(user_of(self.alice))
        for url in (
            reverse("home"),
            reverse("dashboard", args=["riverside"]),
            reverse("donate", args=["riverside"]),
            reverse("statement", args=["riverside"]),
        ):
            with self.subTest(url=url):
                text = self.client.get(url).content.decode()
                self.assertNotIn("-1.5 hours", text)
                self.assertIn("You have received 1.5 hours more than you have given.", text)

    def test_a_brokers_list_says_a_balance_in_words(self):
        self.assertEqual(balance_phrase(-630), "received 10.5 hours more than given")
        self.assertEqual(balance_phrase(90), "1.5 hours to spend")
        self.assertEqual(balance_phrase(0), "as much given as received")
