"""The broker's desk shows each follow-up list bounded (the first few, the size where it is
cheap to count, a link to the whole list); each list has its own page, a page at a time, with
everyone on it. The one-way lists read per account agree with the digest's grouped lists."""

from datetime import timedelta
from unittest import mock

import time_machine
from django.urls import reverse
from django.utils import timezone

from desk.followups import DESK_FIRST, follow_up_list, follow_up_summaries, follow_ups
from exchanges import services as exchanges
from ledger import services as ledger
from members.models import LimitRule, Membership
from tests.factories import make_member
from tests.reminders.support import ReminderTestCase
from tests.support import at, user_of


class DeskFollowUpLists(ReminderTestCase):
    def approved_days_ago(self, name: str, days: int):
        person = make_member(self.riverside, name)
        # At noon on the site's calendar: "n days ago" whatever the hour or clock change.
        Membership.objects.filter(person=person).update(
            decided_at=at(timezone.localdate() - timedelta(days=days), 12)
        )
        return person

    def help(self, giver, receiver, *, days_ago: int = 3, minutes: int = 60) -> None:
        exchanges.record_exchange(
            recorded_by=self.brenda,
            giver=giver,
            receiver=receiver,
            minutes=minutes,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=days_ago),
                description="Help",
            ),
        )

    def desk(self):
        self.client.force_login(user_of(self.brenda))
        return self.client.get(reverse("desk", args=["riverside"]))

    def list_page(self, which: str, page: int | None = None):
        self.client.force_login(user_of(self.brenda))
        query = {"page": page} if page else {}
        return self.client.get(reverse("follow-up-list", args=["riverside", which]), query)

    def test_the_desk_shows_the_first_few_and_the_exact_count_of_new_members(self):
        names = [f"Newcomer {n:02d}" for n in range(DESK_FIRST + 3)]
        for name in names:
            self.approved_days_ago(name, 40)
        page = self.desk()
        self.assertContains(page, f"New, with no exchange after a month ({len(names)})")
        for name in names[:DESK_FIRST]:
            self.assertContains(page, name)
        for name in names[DESK_FIRST:]:
            self.assertNotContains(page, name)
        self.assertContains(page, reverse("follow-up-list", args=["riverside", "new"]))
        self.assertContains(page, f"See all {len(names)}")
        # The whole list is on its own page, with the same count.
        full = self.list_page("new")
        self.assertContains(full, f"{len(names)} members to follow up")
        for name in names:
            self.assertContains(full, name)

    def test_a_short_list_has_no_link_to_more(self):
        self.approved_days_ago("Nina Newcomer", 35)
        page = self.desk()
        self.assertContains(page, "New, with no exchange after a month (1)")
        self.assertNotContains(page, reverse("follow-up-list", args=["riverside", "new"]))

    def test_the_inactive_list_is_bounded_on_the_desk_and_whole_on_its_page(self):
        names = [f"Quiet {n:02d}" for n in range(DESK_FIRST + 2)]
        for name in names:
            self.approved_days_ago(name, 300)
        expected = sorted(names + ["Alice Archer", "Bob Baker", "Olive Offline"])
        summary = {s.which: s for s in follow_up_summaries(time_bank=self.riverside)}
        inactive = summary["inactive"]
        self.assertEqual([m.person.display_name for m in inactive.first], expected[:DESK_FIRST])
        self.assertTrue(inactive.more)
        self.assertEqual(inactive.total, len(expected))
        page = self.desk()
        self.assertContains(page, f"No exchange for six months ({len(expected)})")
        self.assertContains(page, f"See all {len(expected)}: No exchange for six months")
        self.assertNotContains(page, expected[-1])
        full = self.list_page("inactive")
        self.assertContains(full, f"{len(expected)} members to follow up")
        for name in expected:
            self.assertContains(full, name)

    def test_the_full_list_is_paged_and_every_page_together_holds_everyone(self):
        names = [f"Quiet {n:02d}" for n in range(7)]
        for name in names:
            self.approved_days_ago(name, 300)
        expected = sorted(names + ["Alice Archer", "Bob Baker", "Olive Offline"])
        seen = []
        with mock.patch("reminders.views.FOLLOW_UP_PAGE", 4):
            for number in (1, 2, 3):
                page = self.list_page("inactive", number)
                rows = [m.person.display_name for m in page.context["page"].object_list]
                seen += rows
                self.assertEqual(page.context["page"].paginator.count, len(expected))
            self.assertContains(page, "Page 3 of 3")
            self.assertContains(self.list_page("inactive", 1), "?page=2")
            # Nonsense page numbers get a real page, not an error.
            self.assertEqual(self.list_page("inactive", 99).status_code, 200)
        self.assertEqual(seen, expected)

    def test_an_unknown_list_is_not_found(self):
        self.client.force_login(user_of(self.brenda))
        url = reverse("follow-up-list", args=["riverside", "nobody"])
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_the_one_way_lists_hold_who_only_gave_or_only_received_this_year(self):
        people = [make_member(self.riverside, f"Member {n}") for n in range(6)]
        accounts = [ledger.open_account(time_bank=self.riverside, person=p) for p in people]
        self.help(accounts[0], accounts[1], minutes=45)  # 0 only gave, 1 only received
        self.help(accounts[2], accounts[3])
        self.help(accounts[3], accounts[2], minutes=30)  # 2 and 3 both ways
        self.help(self.alice_account, accounts[5], minutes=90)  # 5 only received
        self.help(self.alice_account, accounts[1], minutes=15, days_ago=100)
        # Bob received from 4 more than a year ago (recorded then): this year bob only gave.
        Membership.objects.filter(person__in=[people[4], self.bob]).update(
            decided_at=timezone.now() - timedelta(days=800)
        )
        with time_machine.travel(at(timezone.localdate() - timedelta(days=100), 10), tick=False):
            self.help(accounts[4], self.bob_account, minutes=30, days_ago=300)
        self.help(self.bob_account, accounts[4], minutes=60, days_ago=10)
        only_gave = follow_up_list("only-gave", time_bank=self.riverside)
        only_received = follow_up_list("only-received", time_bank=self.riverside)
        self.assertEqual(
            [(a.holder_name, a.given) for a in only_gave],
            [("Alice Archer", 105), ("Bob Baker", 60), ("Member 0", 45)],
        )
        self.assertEqual(
            [(a.holder_name, a.received) for a in only_received],
            [("Member 1", 60), ("Member 4", 60), ("Member 5", 90)],
        )
        digest = follow_ups(time_bank=self.riverside)
        self.assertEqual(
            (digest.only_gave, digest.only_received), (list(only_gave), list(only_received))
        )
        summary = {s.which: s for s in follow_up_summaries(time_bank=self.riverside)}
        self.assertEqual((summary["only-gave"].total, summary["only-received"].total), (3, 3))
        page = self.desk()
        self.assertContains(page, "Member 5</a>: received 1.5 hours")
        # Thirteen months on, all of it is too old for either list.
        with time_machine.travel(at(timezone.localdate() + timedelta(days=400), 10), tick=False):
            self.assertFalse(follow_up_list("only-gave", time_bank=self.riverside).exists())
            self.assertFalse(follow_up_list("only-received", time_bank=self.riverside).exists())
            digest = follow_ups(time_bank=self.riverside)
            self.assertEqual((digest.only_gave, digest.only_received), ([], []))

    def test_past_limit_is_counted_and_bounded(self):
        # Under the "flag" rule an exchange may take an account past the bank's limit.
        self.riverside.limit_rule = LimitRule.FLAG
        self.riverside.default_credit_limit_minutes = -60
        self.riverside.save()
        names = [f"Spender {n}" for n in range(DESK_FIRST + 1)]
        for name in names:
            person = make_member(self.riverside, name)
            account = ledger.open_account(time_bank=self.riverside, person=person)
            self.help(self.alice_account, account, minutes=120)
        summary = {s.which: s for s in follow_up_summaries(time_bank=self.riverside)}
        past = summary["past-limit"]
        everyone = follow_ups(time_bank=self.riverside).past_limit
        self.assertEqual(past.total, len(everyone))
        self.assertEqual(sorted(a.holder_name for a in everyone), names)
        self.assertEqual(past.first, everyone[:DESK_FIRST])
        self.assertTrue(past.more)
        self.assertContains(self.desk(), f"Past their limit ({len(names)})")
