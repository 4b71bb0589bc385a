"""Member statements: the figures, nudges drawn from real open listings, who is emailed,
and that running the monthly job twice makes one report and one email per member."""

from datetime import timedelta

import time_machine
from django.core import mail
from django.test import TestCase, override_settings

from listings.models import Listing, ListingState
from members.models import Membership
from reminders.services import preference_for
from reports import services
from reports.models import MonthlyReport, Nudge, Statement
from tests.factories import make_member
from tests.listings.support import make_listing
from tests.support import REFUSING_MAIL_SERVER, at, eager_tasks, user_of

from .support import KnownMonth


class Statements(KnownMonth, TestCase):
    near: Listing
    far: Listing
    request: Listing
    newest: Listing

    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        with time_machine.travel(at(cls.n), tick=False):
            # Offers carl (GL50, only gave) could use: bob's nearby one first.
            cls.near = make_listing(cls.riverside, cls.bob, "Dog walking", area="GL50")
            cls.far = make_listing(cls.riverside, cls.erin, "Knitting lessons", area="GL52")
            make_listing(cls.riverside, cls.carl, "Carpentry")  # his own: never suggested
            closed = make_listing(cls.riverside, cls.alice, "Old offer", area="GL50")
            closed.state = ListingState.CLOSED
            closed.save(update_fields=["state"])
            make_listing(cls.hillside, cls.hugo, "Hillside lifts", area="GL50")
            # A request erin (only received) could help with.
            cls.request = make_listing(cls.riverside, cls.alice, "Shopping", kind="request")
            cls.newest = make_listing(cls.riverside, cls.bob, "Lifts to town", area="GL99")

    def run_job(self, **kwargs):
        with (
            time_machine.travel(at(self.n, 6), tick=False),
            eager_tasks(),
            self.captureOnCommitCallbacks(execute=True),
        ):
            return services.build_monthly_report(time_bank=self.riverside, month=self.m, **kwargs)

    def statement(self, person):
        return Statement.objects.get(membership__person=person, month=self.m)

    def test_a_statement_gives_the_months_and_years_hours_balance_and_partners(self):
        self.run_job()
        alice = self.statement(self.alice)
        self.assertEqual(
            (alice.given_minutes, alice.received_minutes, alice.balance_minutes), (180, 60, 120)
        )
        self.assertEqual((alice.given_year_minutes, alice.received_year_minutes), (180, 60))
        self.assertEqual(alice.exchanged_with, ["Bob Baker", "Olive Offline"])
        self.assertEqual(alice.nudge, Nudge.NONE)

    def test_members_with_no_activity_and_no_balance_get_no_statement(self):
        self.run_job()
        self.assertFalse(Statement.objects.filter(membership__person__in=[self.brenda, self.dan]))

    def test_someone_who_only_gave_is_offered_real_open_offers_nearest_first(self):
        self.run_job()
        carl = self.statement(self.carl)
        self.assertEqual(carl.nudge, Nudge.SPEND)
        # Same area first, then the newest from anywhere in the bank.
        self.assertEqual(
            [s["id"] for s in carl.suggestions], [self.near.pk, self.newest.pk, self.far.pk]
        )
        titles = {s["title"] for s in carl.suggestions}
        self.assertFalse(titles & {"Carpentry", "Old offer", "Hillside lifts", "Shopping"})

    def test_someone_who_only_received_is_shown_requests_they_could_help_with(self):
        self.run_job()
        erin = self.statement(self.erin)
        self.assertEqual(erin.nudge, Nudge.HELP)
        self.assertEqual([s["title"] for s in erin.suggestions], ["Shopping"])
        body = next(m for m in mail.outbox if m.to == [user_of(self.erin).email]).body
        self.assertIn("Here are requests you could help with", body)
        self.assertIn(f"/listings/{self.request.pk}/", body)

    def test_each_online_member_with_a_statement_is_emailed_with_an_unsubscribe_link(self):
        self.run_job()
        emailed = sorted(m.to[0] for m in mail.outbox)
        expected = sorted(user_of(p).email for p in (self.alice, self.bob, self.carl, self.erin))
        self.assertEqual(emailed, expected)
        carl = next(m for m in mail.outbox if m.to == [user_of(self.carl).email])
        self.assertIn("You have hours to spend: here are offers near you", carl.body)
        self.assertIn("/email/unsubscribe/", carl.body)
        self.assertIn("List-Unsubscribe", carl.extra_headers)

    def test_an_offline_member_gets_a_statement_but_never_an_email(self):
        self.run_job()
        olive = self.statement(self.olive)
        self.assertEqual((olive.received_minutes, olive.emailed_at), (60, None))
        self.assertEqual(len(mail.outbox), 4)

    def test_a_member_who_unsubscribed_from_statements_gets_no_email(self):
        preference = preference_for(self.bob)
        preference.statement = False
        preference.save()
        self.run_job()
        self.assertNotIn([user_of(self.bob).email], [m.to for m in mail.outbox])
        self.assertIsNone(self.statement(self.bob).emailed_at)
        self.assertEqual(len(mail.outbox), 3)

    def test_running_the_job_twice_makes_one_report_and_one_email_per_member(self):
        self.assertEqual(self.run_job(), "built")
        self.assertEqual(self.run_job(), "done_already")
        self.assertEqual(MonthlyReport.objects.filter(time_bank=self.riverside).count(), 1)
        self.assertEqual(Statement.objects.filter(month=self.m).count(), 5)
        self.assertEqual(len(mail.outbox), 4)

    def test_small_batches_make_the_same_statements(self):
        self.run_job(batch_size=2)
        self.assertEqual(Statement.objects.filter(month=self.m).count(), 5)
        self.assertEqual(len(mail.outbox), 4)

    @override_settings(EMAIL_BACKEND=REFUSING_MAIL_SERVER)
    def test_a_refused_email_does_not_stop_the_others_and_is_sent_on_a_later_run(self):
        user_of(self.carl).email = "carl@refused.example.org"
        user_of(self.carl).save(update_fields=["email"])
        self.run_job()
        self.assertEqual(len(mail.outbox), 3)
        self.assertIsNone(self.statement(self.carl).emailed_at)
        # The mail server takes it again: the next run sends only the one left.
        user_of(self.carl).email = "carl@example.org"
        user_of(self.carl).save(update_fields=["email"])
        self.run_job()
        self.assertEqual(len(mail.outbox), 4)
        self.assertIsNotNone(self.statement(self.carl).emailed_at)

    def test_a_statement_is_emailed_at_most_once_even_if_asked_twice(self):
        self.run_job()
        alice = self.statement(self.alice)
        self.assertFalse(services.send_statement(statement_id=alice.pk))
        self.assertEqual(len(mail.outbox), 4)


class ABuilderThatDied(KnownMonth, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()

    def test_its_claim_expires_and_the_next_run_finishes_the_report(self):
        with time_machine.travel(at(self.n, 6), tick=False):
            report, claimed = services._claim(self.riverside, self.m)
            self.assertTrue(claimed)
            # The worker wrote one batch of statements, then died.
            services.write_statements(
                report=report, batch_size=2, suggestions=services.Suggestions(self.riverside.pk)
            )
            self.assertEqual(
                services.build_monthly_report(time_bank=self.riverside, month=self.m),
                "in_progress",
            )
        later = at(self.n, 6) + services.BUILD_TIMEOUT + timedelta(minutes=1)
        with (
            time_machine.travel(later, tick=False),
            eager_tasks(),
            self.captureOnCommitCallbacks(execute=True),
        ):
            outcome = services.build_monthly_report(time_bank=self.riverside, month=self.m)
        self.assertEqual(outcome, "built")
        report.refresh_from_db()
        self.assertEqual((report.state, report.attempts), ("done", 2))
        self.assertEqual(Statement.objects.filter(month=self.m).count(), 5)
        self.assertEqual(len(mail.outbox), 4)

    def test_a_builder_whose_claim_was_taken_over_stops_writing(self):
        with time_machine.travel(at(self.n, 6), tick=False):
            stale, _ = services._claim(self.riverside, self.m)
        with time_machine.travel(at(self.n, 6) + services.BUILD_TIMEOUT * 2, tick=False):
            services._claim(self.riverside, self.m)
            with self.assertRaises(services.LostClaim):
                services.write_statements(
                    report=stale, suggestions=services.Suggestions(self.riverside.pk)
                )


class NewMember(KnownMonth, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.build_month()
        late = make_member(cls.riverside, "Late Joiner")
        Membership.objects.filter(person=late).update(decided_at=at(cls.n + timedelta(days=3)))

    def test_a_member_approved_after_the_month_is_not_counted(self):
        with time_machine.travel(at(self.n, 6), tick=False), eager_tasks():
            services.build_monthly_report(time_bank=self.riverside, month=self.m)
        self.assertEqual(MonthlyReport.objects.get(month=self.m).figures["members"], 7)
