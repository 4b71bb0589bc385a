"""Problems 4 and 6 of issue 22: a broker's flows for members who do not use the website.

- 4: the desk's "Find a member" finds by what is typed (it sent ``q``, which the members page
  ignored, so "Margaret" listed everyone).
- 6: adding a member lands on their page; "Record an exchange for" names them and asks whether
  they gave or received; a broker can say when a member really joined, so last week's paper
  slip can be entered.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges.models import Exchange, State
from ledger import services as ledger
from members import services
from members.models import Membership, Person
from tests.base import CastTestCase
from tests.factories import make_member
from tests.support import user_of


class FindAMemberFromTheDesk(CastTestCase):
    def test_the_desks_search_box_finds_by_what_is_typed(self):
        make_member(self.riverside, "Margaret Dawson", offline=True)
        self.client.force_login(user_of(self.brenda))
        desk = self.client.get(reverse("desk", args=["riverside"])).content.decode()
        form = re.search(
            r'<form method="get" action="([^"]+)" role="search">(.*?)</form>', desk, re.S
        )
        self.assertIsNotNone(form, "no search form on the desk")
        action, inner = form.groups()
        names = re.findall(r'<input[^>]*name="([^"]+)"', inner)
        self.assertEqual(len(names), 1, names)
        found = self.client.get(action, {names[0]: "Margaret"})
        self.assertEqual(
            [m.person.display_name for m in found.context["page"]], ["Margaret Dawson"]
        )


class OfflineMembers(CastTestCase):
    def setUp(self) -> None:
        self.today = timezone.localdate()
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.client.force_login(user_of(self.brenda))

    def add_margaret(self, **extra: Any) -> Any:
        return self.client.post(
            reverse("add-offline-member", args=["riverside"]),
            {
                "display_name": "Margaret Dawson",
                "area": "GL54",
                "contact_preference": "broker",
                **extra,
            },
        )

    def margaret(self) -> Person:
        return Person.objects.get(display_name="Margaret Dawson")

    def record_for(self, person: Person, days_ago: int, direction: str = "received"):
        account = ledger.open_account(time_bank=self.riverside, person=person)
        url = reverse("record-exchange", args=["riverside"]) + f"?for={account.pk}"
        form = self.client.get(url).context["form"]
        return self.client.post(
            url,
            {
                "direction": direction,
                "other": self.alice_account.pk,
                "effective_date": (self.today - timedelta(days=days_ago)).isoformat(),
                "minutes": "1",
                "description": "Shopping trip",
                "idempotency_key": form.initial["idempotency_key"],
            },
        )

    def test_adding_a_member_lands_on_their_page(self):
        response = self.add_margaret()
        self.assertRedirects(
            response, reverse("member-page", args=["riverside", self.margaret().pk])
        )
        page = self.client.get(response["Location"])
        self.assertContains(page, "Record an exchange for Margaret Dawson")

    def test_record_for_names_them_and_asks_whether_they_gave_or_received(self):
        self.add_margaret()
        margaret = self.margaret()
        account = ledger.open_account(time_bank=self.riverside, person=margaret)
        page = self.client.get(
            reverse("record-exchange", args=["riverside"]) + f"?for={account.pk}"
        )
        self.assertContains(page, "<h1>Record an exchange for Margaret Dawson</h1>", html=True)
        self.assertContains(page, "Did Margaret Dawson give or receive help?")
        self.assertContains(page, "Margaret Dawson received help")
        response = self.record_for(margaret, 0, "received")
        exchange = Exchange.objects.get()
        self.assertRedirects(response, reverse("exchange", args=[exchange.pk]))
        self.assertEqual((exchange.giver, exchange.receiver), (self.alice_account, account))
        self.assertEqual(exchange.state, State.COMPLETED)

    def test_a_slip_from_before_she_was_added_is_refused_with_what_to_do(self):
        self.add_margaret()
        response = self.record_for(self.margaret(), 7)
        self.assertContains(response, "the help cannot be earlier")
        self.assertContains(response, "a broker can change the date they joined")
        self.assertFalse(Exchange.objects.exists())

    def test_the_date_she_joined_given_when_adding_her_lets_last_weeks_slip_in(self):
        self.add_margaret(joined_on=(self.today - timedelta(days=10)).isoformat())
        self.assertEqual(
            Membership.objects.get(person=self.margaret()).joined,
            self.today - timedelta(days=10),
        )
        response = self.record_for(self.margaret(), 7)
        self.assertEqual(response.status_code, 302, response.content[:3000])
        self.assertEqual(Exchange.objects.get().effective_date, self.today - timedelta(days=7))

    def test_a_broker_sets_when_a_member_really_joined_from_their_page(self):
        self.add_margaret()
        margaret = self.margaret()
        page = self.client.get(reverse("member-page", args=["riverside", margaret.pk]))
        joined_url = reverse("member-joined", args=["riverside", margaret.pk])
        self.assertContains(page, joined_url)
        response = self.client.post(
            joined_url, {"joined_on": (self.today - timedelta(days=30)).isoformat()}
        )
        self.assertRedirects(response, reverse("member-page", args=["riverside", margaret.pk]))
        self.assertEqual(self.record_for(margaret, 7).status_code, 302)
        event = AuditEvent.objects.get(action=Action.MEMBERSHIP_JOINED_ON)
        self.assertEqual(event.actor, self.brenda)

    def test_the_date_joined_cannot_be_after_help_already_recorded_or_in_the_future(self):
        self.add_margaret(joined_on=(self.today - timedelta(days=10)).isoformat())
        margaret = self.margaret()
        self.record_for(margaret, 7)
        membership = Membership.objects.get(person=margaret)
        for day, message in (
            (self.today - timedelta(days=3), "they joined on that day at the latest"),
            (self.today + timedelta(days=1), "cannot be in the future"),
        ):
            with self.subTest(day=day):
                response = self.client.post(
                    reverse("member-joined", args=["riverside", margaret.pk]),
                    {"joined_on": day.isoformat()},
                )
                self.assertContains(response, message)
                membership.refresh_from_db()
                self.assertEqual(membership.joined, self.today - timedelta(days=10))

    def test_only_a_broker_of_the_bank_may_set_it(self):
        for person in (self.alice, self.hugo):
            with self.subTest(person=person.display_name):
                self.client.force_login(user_of(person))
                response = self.client.post(
                    reverse("member-joined", args=["riverside", self.olive.pk]),
                    {"joined_on": self.today.isoformat()},
                )
                self.assertEqual(response.status_code, 403)
        with self.assertRaises(services.PermissionDenied):
            services.set_joined_on(
                membership=Membership.objects.get(person=self.olive),
                joined_on=self.today,
                by=self.alice,
            )
