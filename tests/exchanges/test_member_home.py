"""Problems 3, 7 and 8 of issue 22: what a member sees of their own hours.

- 3: every exchange still waiting stays listed until it is decided, and the list is chosen by
  the date the help happened (as it is shown), newest first, with the other person named.
- 7: the home page answers at a glance (no "You are a ."): the balance in words, what waits
  for the member, what they wait on, one button to record.
- 8: the confirmation speaks to the reader in the second person, naming both sides; its date
  is the date of the help, said as such.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from exchanges import services
from exchanges.models import Exchange, State
from ledger import services as ledger
from ledger.models import Account
from members.models import Person
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of


def help_on(day: date, description: str) -> services.Details:
    return services.Details(effective_date=day, description=description)


class WhatAMemberSees(CastTestCase):
    today: date
    alice_account: Account
    bob_account: Account
    chidi: Person
    chidi_account: Account
    pending: Exchange

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.today = timezone.localdate()
        cls.alice_account = ledger.open_account(time_bank=cls.riverside, person=cls.alice)
        cls.bob_account = ledger.open_account(time_bank=cls.riverside, person=cls.bob)
        # chidi: a member who receives help (and is asked to confirm it).
        cls.chidi = make_member(cls.riverside, "Chidi Okafor")
        cls.chidi_account = ledger.open_account(time_bank=cls.riverside, person=cls.chidi)
        # Alice recorded gardening for Bob two days ago: it waits for Bob.
        cls.pending = services.record_exchange(
            recorded_by=cls.alice,
            giver=cls.alice_account,
            receiver=cls.bob_account,
            minutes=90,
            details=help_on(cls.today - timedelta(days=2), "Pruned the apple tree"),
        )
        # Then the broker entered a pile of paper slips from two months ago, after it.
        for n in range(12):
            services.record_exchange(
                recorded_by=cls.brenda,
                giver=cls.alice_account if n % 2 else cls.bob_account,
                receiver=cls.bob_account if n % 2 else cls.alice_account,
                minutes=30,
                details=help_on(cls.today - timedelta(days=60 + n), f"Paper slip {n}"),
            )

    def dashboard(self, person):
        self.client.force_login(person.user)
        return self.client.get(reverse("dashboard", args=["riverside"]))

    def listed(self, response) -> list[str]:
        return [exchange.description for exchange in response.context["recent"]]

    # --- 3 ------------------------------------------------------------------------------------

    def test_a_pending_exchange_stays_listed_when_she_records_another(self):
        services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.chidi_account,
            minutes=60,
            details=help_on(self.today - timedelta(days=70), "Another old slip"),
        )
        listed = self.listed(self.dashboard(self.alice))
        self.assertIn("Pruned the apple tree", listed)
        self.assertIn("Another old slip", listed)  # waiting for Chidi, however old

    def test_the_list_is_the_latest_by_date_of_help_newest_first(self):
        response = self.dashboard(self.alice)
        dates = [exchange.effective_date for exchange in response.context["recent"]]
        self.assertEqual(dates, sorted(dates, reverse=True))
        # The newest dates, not the newest recorded: the oldest slips are not shown.
        self.assertEqual(self.listed(response)[0], "Pruned the apple tree")
        self.assertNotIn("Paper slip 11", self.listed(response))
        self.assertIn("Paper slip 0", self.listed(response))

    def test_an_exchange_just_confirmed_is_listed(self):
        services.confirm_exchange(exchange=self.pending, person=self.bob)
        self.assertIn("Pruned the apple tree", self.listed(self.dashboard(self.bob)))

    def test_each_row_names_the_other_person_from_where_the_reader_stands(self):
        self.assertContains(
            self.dashboard(self.alice),
            "You helped Bob Baker for 1.5 hours on "
            + date_format(self.today - timedelta(days=2), "DATE_FORMAT"),
        )
        self.assertContains(self.dashboard(self.bob), "Alice Archer helped you for 1.5 hours")

    # --- 7 ------------------------------------------------------------------------------------

    def test_the_home_page_answers_at_a_glance(self):
        self.client.force_login(user_of(self.alice))
        response = self.client.get(reverse("home"))
        self.assertNotContains(response, "You are a .")
        text = re.sub(r"\s+", " ", response.content.decode())
        posted = ledger.balance(account=self.alice_account).posted
        self.assertEqual(posted, 0)  # as much given as received in the slips
        self.assertIn("You have given as much as you have received", text)
        self.assertIn("You have given 3 hours of help and received 3 hours.", text)
        # What she waits on: Bob's confirmation; and one button to record.
        self.assertIn("What you are waiting for", text)
        self.assertIn("Waiting for Bob Baker to confirm", text)
        record = reverse("record-exchange", args=["riverside"])
        self.assertEqual(text.count(f'href="{record}"'), 1)

    def test_the_home_page_shows_what_waits_for_the_member(self):
        self.client.force_login(user_of(self.bob))
        text = re.sub(r"\s+", " ", self.client.get(reverse("home")).content.decode())
        self.assertIn("Waiting for you", text)
        self.assertIn("Alice Archer says: “I helped you for 1.5 hours", text)

    def test_a_negative_balance_is_said_in_words_not_a_bare_number(self):
        services.confirm_exchange(exchange=self.pending, person=self.bob)
        self.client.force_login(user_of(self.bob))
        text = re.sub(r"\s+", " ", self.client.get(reverse("home")).content.decode())
        self.assertIn("You have received 1.5 hours more than you have given.", text)
        self.assertIn("You can receive 8.5 hours more before you reach the time bank", text)
        self.assertNotIn("-1.5 hours", text)
        self.assertNotIn("−1.5 hours", text)

    def test_a_commissioner_goes_straight_to_last_quarters_report(self):
        self.client.force_login(user_of(self.cora))
        response = self.client.get(reverse("home"))
        self.assertNotContains(response, "You are a .")
        self.assertContains(
            response, reverse("commissioner-report", args=["riverside"]) + "?preset=quarter"
        )

    # --- 8 ------------------------------------------------------------------------------------

    def waiting_for_chidi(self) -> Exchange:
        return services.record_exchange(
            recorded_by=self.alice,
            giver=self.alice_account,
            receiver=self.chidi_account,
            minutes=90,
            details=help_on(self.today - timedelta(days=1), "Set up video calls"),
        )

    def test_the_person_asked_to_confirm_reads_it_in_the_second_person(self):
        exchange = self.waiting_for_chidi()
        self.client.force_login(user_of(self.chidi))
        response = self.client.get(reverse("exchange", args=[exchange.pk]))
        text = re.sub(r"\s+", " ", response.content.decode())
        day = date_format(exchange.effective_date, "DATE_FORMAT")
        self.assertIn(f"Alice Archer says: “I helped you for 1.5 hours on {day}", text)
        self.assertIn("Waiting for you to confirm", text)
        self.assertNotIn("Waiting for the other person to confirm", text)
        self.assertNotIn("Chidi Okafor gives", text)
        self.assertIn("Yes, Alice Archer helped me for 1.5 hours", text)

    def test_the_one_tap_confirm_on_the_home_page_says_who_helped_whom(self):
        exchange = self.waiting_for_chidi()
        self.client.force_login(user_of(self.chidi))
        text = re.sub(r"\s+", " ", self.client.get(reverse("home")).content.decode())
        self.assertIn("Yes, Alice Archer helped me for 1.5 hours", text)
        self.assertNotIn("recorded by Alice Archer, on", text)
        response = self.client.post(
            reverse("confirm-exchange", args=[exchange.pk]), {"next": reverse("home")}
        )
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
        exchange.refresh_from_db()
        self.assertEqual(exchange.state, State.COMPLETED)
        self.assertContains(
            self.client.get(reverse("home")),
            "Confirmed: Alice Archer helped you for 1.5 hours on",
        )

    def test_the_recorder_and_a_broker_read_it_from_where_they_stand(self):
        exchange = self.waiting_for_chidi()
        self.client.force_login(user_of(self.alice))
        text = re.sub(r"\s+", " ", self.client.get(reverse("exchange", args=[exchange.pk])).text)
        self.assertIn("You helped Chidi Okafor for 1.5 hours", text)
        self.assertIn("Waiting for Chidi Okafor to confirm", text)
        self.client.force_login(user_of(self.brenda))
        text = re.sub(r"\s+", " ", self.client.get(reverse("exchange", args=[exchange.pk])).text)
        self.assertIn("Alice Archer helped Chidi Okafor for 1.5 hours", text)

    def test_the_recorded_message_names_both_sides(self):
        self.client.force_login(user_of(self.alice))
        form = self.client.get(reverse("record-exchange", args=["riverside"])).context["form"]
        response = self.client.post(
            reverse("record-exchange", args=["riverside"]),
            {
                "direction": "gave",
                "other": self.chidi_account.pk,
                "effective_date": self.today.isoformat(),
                "minutes": "1",
                "description": "Fixed the gate",
                "idempotency_key": form.initial["idempotency_key"],
            },
            follow=True,
        )
        self.assertContains(response, "Recorded: You helped Chidi Okafor for 1 hour on")
        self.assertContains(response, "We have asked Chidi Okafor to confirm it.")


class AnImportedOpeningBalance(CastTestCase):
    def test_the_glance_says_it_apart_so_the_figures_still_add_up(self):
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        ledger.post_journal(
            time_bank=self.riverside,
            legs=[(alice, 150), (ledger.migration_account(time_bank=self.riverside), -150)],
            idempotency_key="import-opening:alice",
            effective_date=timezone.localdate() - timedelta(days=30),
            recorded_by=self.brenda,
            description="Opening balance brought forward",
        )
        self.client.force_login(user_of(self.alice))
        text = re.sub(r"\s+", " ", self.client.get(reverse("home")).content.decode())
        self.assertIn("You have 2.5 hours to spend.", text)
        self.assertIn("You have given 0 hours of help and received 0 hours.", text)
        self.assertIn("2.5 hours came with you from the time bank's earlier records.", text)
