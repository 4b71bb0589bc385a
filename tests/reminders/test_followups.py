"""The follow-up lists for brokers: new members with no exchange after 30 days, members with
no exchange for 6 months, members who only gave or only received over 12 months, accounts
past their limit. A fixed number of queries, however many members."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from desk.followups import follow_ups
from exchanges import services as exchanges
from ledger import services as ledger
from members.models import LimitRule, Membership, Role
from reminders.recipients import digest
from tests.factories import make_bank, make_member
from tests.support import at, user_of

from .support import ReminderTestCase

FOLLOW_UP_QUERIES = 5
DIGEST_QUERIES = 13


class FollowUpLists(ReminderTestCase):
    def names(self, rows) -> list[str]:
        return [row.person.display_name for row in rows]

    def approved_days_ago(self, name: str, days: int):
        person = make_member(self.riverside, name)
        # At noon on the site's calendar: "n days ago" whatever the hour or clock change.
        Membership.objects.filter(person=person).update(
            decided_at=at(timezone.localdate() - timedelta(days=days), 12)
        )
        return person

    def test_new_members_are_listed_from_30_days_after_approval_until_60_if_they_have_not_exchanged(
        self,
    ):
        for days in (29, 30, 59, 60):
            self.approved_days_ago(f"Joined {days} days ago", days)
        listed = self.names(follow_ups(time_bank=self.riverside).new_without_exchange)
        self.assertEqual(listed, ["Joined 30 days ago", "Joined 59 days ago"])

    def test_a_new_member_who_has_exchanged_is_not_listed(self):
        newcomer = self.approved_days_ago("Nina Newcomer", 40)
        account = ledger.open_account(time_bank=self.riverside, person=newcomer)
        exchanges.record_exchange(
            recorded_by=self.brenda,
            giver=account,
            receiver=self.bob_account,
            minutes=60,
            details=exchanges.Details(
                effective_date=timezone.localdate() - timedelta(days=2), description="Shopping"
            ),
        )
        self.assertEqual(follow_ups(time_bank=self.riverside).new_without_exchange, [])

    def test_members_with_no_exchange_for_six_months_are_listed(self):
        today = timezone.localdate()
        self.record(today - timedelta(days=150), by=self.brenda)  # alice helped bob 5 months ago
        lists = follow_ups(time_bank=self.riverside)
        self.assertEqual(self.names(lists.inactive), ["Olive Offline"])
        # Seven months on, the same exchange is too old.
        with time_machine.travel(at(today + timedelta(days=60), 10), tick=False):
            lists = follow_ups(time_bank=self.riverside)
        self.assertEqual(self.names(lists.inactive), ["Alice Archer", "Bob Baker", "Olive Offline"])
        self.assertNotIn("Brenda Broker", self.names(lists.inactive))

    def test_members_who_only_gave_or_only_received_this_year_are_listed(self):
        today = timezone.localdate()
        self.record(today - timedelta(days=20), by=self.brenda)
        lists = follow_ups(time_bank=self.riverside)
        self.assertEqual(
            [(a.holder_name, getattr(a, "given", None)) for a in lists.only_gave],
            [("Alice Archer", 60)],
        )
        self.assertEqual(
            [(a.holder_name, getattr(a, "received", None)) for a in lists.only_received],
            [("Bob Baker", 60)],
        )
        exchanges.record_exchange(
            recorded_by=self.brenda,
            giver=self.bob_account,
            receiver=self.alice_account,
            minutes=30,
            details=exchanges.Details(effective_date=today, description="Ironing"),
        )
        lists = follow_ups(time_bank=self.riverside)
        self.assertEqual((lists.only_gave, lists.only_received), ([], []))

    def test_an_unconfirmed_exchange_does_not_count_as_giving_yet(self):
        self.record(timezone.localdate() - timedelta(days=1))  # waits for bob
        lists = follow_ups(time_bank=self.riverside)
        self.assertEqual((lists.only_gave, lists.only_received), ([], []))

    def test_accounts_past_the_banks_limit_are_listed_under_the_flag_rule(self):
        lakeside = make_bank(name="Lakeside", limit_rule=LimitRule.FLAG)
        lena = make_member(lakeside, "Lena Lake", role=Role.BROKER)
        kim, lou = make_member(lakeside, "Kim Kay"), make_member(lakeside, "Lou Low")
        kim_account = ledger.open_account(time_bank=lakeside, person=kim)
        lou_account = ledger.open_account(time_bank=lakeside, person=lou)
        exchanges.record_exchange(
            recorded_by=lena,
            giver=kim_account,
            receiver=lou_account,
            minutes=11 * 60,
            details=exchanges.Details(effective_date=timezone.localdate(), description="Moving"),
        )
        past = follow_ups(time_bank=lakeside).past_limit
        self.assertEqual([(a.holder_name, a.posted_minutes) for a in past], [("Lou Low", -660)])
        self.assertEqual(follow_ups(time_bank=self.riverside).past_limit, [])

    def test_the_brokers_desk_shows_the_lists(self):
        self.approved_days_ago("Nina Newcomer", 35)
        self.client.force_login(user_of(self.brenda))
        page = self.client.get(f"/banks/{self.riverside.slug}/desk/")
        self.assertContains(page, "Members to follow up")
        self.assertContains(page, "Nina Newcomer")
        self.assertContains(page, "Olive Offline")


class QueryCountsDoNotGrowWithMembers(ReminderTestCase):
    def add_members(self, count: int) -> None:
        today = timezone.localdate()
        for n in range(count):
            person = make_member(self.riverside, f"Member {n:02d}", offline=n % 3 == 0)
            account = ledger.open_account(time_bank=self.riverside, person=person)
            giver, receiver = (account, self.bob_account) if n % 2 else (self.bob_account, account)
            exchanges.record_exchange(
                recorded_by=self.brenda,
                giver=giver,
                receiver=receiver,
                minutes=30,
                details=exchanges.Details(effective_date=today, description="Help"),
            )
            if n % 4 == 0:
                Membership.objects.filter(person=person).update(
                    decided_at=timezone.now() - timedelta(days=40)
                )

    def test_the_follow_up_lists_take_five_queries_however_many_members(self):
        with self.assertNumQueries(FOLLOW_UP_QUERIES):
            small = follow_ups(time_bank=self.riverside)
        self.add_members(12)
        with self.assertNumQueries(FOLLOW_UP_QUERIES):
            large = follow_ups(time_bank=self.riverside)
        self.assertGreater(len(large.only_gave) + len(large.only_received), 10)
        self.assertGreater(len(large.reasons_by_person()), len(small.reasons_by_person()))

    def test_the_digest_takes_a_fixed_number_of_queries_however_many_members(self):
        with self.assertNumQueries(DIGEST_QUERIES):
            digest(time_bank=self.riverside)
        self.add_members(12)
        with self.assertNumQueries(DIGEST_QUERIES):
            large = digest(time_bank=self.riverside)
        self.assertGreater(len(large.offline_to_phone), 3)
