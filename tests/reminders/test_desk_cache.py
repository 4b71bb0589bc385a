"""The desk's follow-up lists and exchange queues come from the shared cache while nothing in
the bank changed, every write that changes them shows on the next read, in any worker
(members.versions), and after each write the worker builds them for the next visit.
On the suite's cache: per process on SQLite, Redis when REDIS_URL is set."""

from datetime import timedelta
from unittest import mock

import time_machine
from django.contrib.admin.sites import site
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exchanges import services as exchanges
from exchanges.models import Exchange, State
from ledger.models import Account
from members import privacy
from members import services as members
from members.models import (
    ApprovalRule,
    LimitRule,
    Membership,
    Person,
    Status,
    TimeBank,
    User,
)
from members.versions import bank_version, cached
from reminders import tasks
from reminders.followups import _summaries, desk_queues, follow_up_summaries

from .support import ReminderTestCase, at, celery_eager


def shown(summaries) -> dict[str, tuple[int, list[str]]]:
    """Each list's size and the names of its first rows."""
    return {
        s.which: (s.total, [row.person.display_name for row in s.first if row.person])
        for s in summaries
    }


@override_settings(BANK_CACHE_SECONDS=600)
class DeskFollowUpCache(ReminderTestCase):
    def setUp(self) -> None:
        cache.clear()
        # The warm-up each commit queues runs here, not on a broker.
        self.enterContext(celery_eager())

    def summaries(self):
        return follow_up_summaries(time_bank=self.riverside)

    def fresh(self):
        return _summaries(self.riverside, timezone.localdate(), 5)

    def test_a_second_read_makes_no_query_and_shows_the_same(self):
        with CaptureQueriesContext(connection) as first:
            built = self.summaries()
        with CaptureQueriesContext(connection) as second:
            again = self.summaries()
        self.assertGreaterEqual(len(first), 7)
        self.assertEqual(len(second), 0)
        self.assertEqual(shown(again), shown(built))

    def test_every_write_that_changes_a_list_shows_at_once(self):
        def exchange() -> None:
            # Alice helps Bob; Bob confirms: both leave "no exchange for six months".
            done = exchanges.record_exchange(
                recorded_by=self.alice,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=60,
                details=exchanges.Details(
                    effective_date=timezone.localdate() - timedelta(days=1),
                    description="Gardening",
                ),
            )
            exchanges.confirm_exchange(exchange=done, person=self.bob)

        def rename() -> None:
            members.update_profile(user=self.bob.user, profile=members.Profile("Robert Baker"))

        def erase() -> None:
            admin = User.objects.create(
                email="admin@example.org", is_staff=True, password=make_password(None)
            )
            privacy.erase_person(person=self.olive, admin=admin, reason="Asked by phone")

        def leave() -> None:
            membership = Membership.objects.get(person=self.olive, time_bank=self.riverside)
            members.leave_time_bank(membership=membership, by=self.brenda)

        def approve() -> None:
            membership = Membership.objects.get(person=self.dora, time_bank=self.riverside)
            members.approve_membership(membership=membership, broker=self.brenda)
            # Approved 40 days ago with no exchange: on "new" from now on.
            Membership.objects.filter(pk=membership.pk).update(
                decided_at=timezone.now() - timedelta(days=40)
            )

        for name, write in {
            "an exchange": exchange,
            "a new name": rename,
            "an erasure": erase,
            "a member leaving": leave,
            "an approval": approve,
        }.items():
            with self.subTest(name):
                before = shown(self.summaries())
                write()
                after = shown(self.summaries())
                self.assertNotEqual(after, before)
                self.assertEqual(after, shown(self.fresh()))

    def test_a_page_built_before_a_commit_is_never_served_after_it(self):
        # Another worker reads the version, then builds from the data as it was; a write
        # commits meanwhile. What it caches is under a version nobody reads any more.
        def build_while_a_write_commits() -> str:
            with self.captureOnCommitCallbacks(execute=True):
                self.record(timezone.localdate() - timedelta(days=1))
            return "built from the data before the write"

        cached(self.riverside.pk, "test", build_while_a_write_commits)
        self.assertEqual(cached(self.riverside.pk, "test", lambda: "fresh"), "fresh")

    def test_a_page_built_between_a_write_and_its_commit_is_never_served_after_it(self):
        # Another worker reads the version after the write began (its first bump) and builds
        # from the data before the commit, which it cannot yet see.
        with self.captureOnCommitCallbacks(execute=True):
            exchanges.record_exchange(
                recorded_by=self.alice,
                giver=self.alice_account,
                receiver=self.bob_account,
                minutes=60,
                details=exchanges.Details(
                    effective_date=timezone.localdate(), description="Gardening"
                ),
            )
            cached(self.riverside.pk, "test", lambda: "built before the commit")
        self.assertEqual(cached(self.riverside.pk, "test", lambda: "fresh"), "fresh")

    def test_the_desk_shows_the_change_on_the_next_visit(self):
        self.client.force_login(self.brenda.user)
        desk = reverse("desk", args=["riverside"])
        self.assertContains(self.client.get(desk), "Bob Baker")
        members.update_profile(user=self.bob.user, profile=members.Profile("Robert Baker"))
        page = self.client.get(desk)
        self.assertContains(page, "Robert Baker")
        self.assertNotContains(page, "Bob Baker")


def help_bob(case: ReminderTestCase) -> Exchange:
    """Alice records an hour's gardening for Bob today, committed (what it waits for, if
    anything, is up to the bank's rules)."""
    with case.captureOnCommitCallbacks(execute=True):
        return exchanges.record_exchange(
            recorded_by=case.alice,
            giver=case.alice_account,
            receiver=case.bob_account,
            minutes=60,
            details=exchanges.Details(effective_date=timezone.localdate(), description="Gardening"),
        )


@override_settings(BANK_CACHE_SECONDS=600)
class DeskWarmUp(ReminderTestCase):
    """After a write commits, the worker builds the desk for the bank's new version
    (``reminders.tasks.warm_desk``), so the desk's next visit reads it all from the cache."""

    def setUp(self) -> None:
        cache.clear()
        self.enterContext(celery_eager())
        TimeBank.objects.filter(pk=self.riverside.pk).update(
            confirmation_required=False, approval_rule=ApprovalRule.ALL
        )
        self.riverside.refresh_from_db()
        self.client.force_login(self.brenda.user)
        self.desk = reverse("desk", args=["riverside"])

    def test_the_first_visit_after_a_write_reads_the_desk_from_the_cache(self):
        self.client.get(self.desk)
        with CaptureQueriesContext(connection) as between_writes:
            self.assertNotContains(self.client.get(self.desk), "Gardening")
        help_bob(self)
        with CaptureQueriesContext(connection) as after_the_write:
            page = self.client.get(self.desk)
        self.assertEqual(len(after_the_write), len(between_writes))
        self.assertContains(page, 'Approve "Gardening"')
        # What the worker built is what the desk would have built.
        today = timezone.localdate()
        self.assertEqual(
            shown(follow_up_summaries(time_bank=self.riverside)),
            shown(_summaries(self.riverside, today, 5)),
        )
        with override_settings(BANK_CACHE_SECONDS=0):
            fresh = queued(desk_queues(time_bank=self.riverside))
        self.assertEqual(queued(desk_queues(time_bank=self.riverside)), fresh)

    def test_one_warm_up_a_version(self):
        help_bob(self)
        self.assertFalse(tasks.warm_desk(self.riverside.pk))
        self.assertFalse(tasks.warm_desk(999_999))

    def test_a_write_commits_when_the_warm_up_cannot_be_queued(self):
        refused = OSError("the broker is down")
        with mock.patch.object(tasks.warm_desk, "apply_async", side_effect=refused):
            with self.assertLogs("members.versions", "WARNING") as logged:
                exchange = help_bob(self)
        self.assertIn("could not queue the desk's warm-up", logged.output[0])
        self.assertTrue(Exchange.objects.filter(pk=exchange.pk).exists())
        self.assertContains(self.client.get(self.desk), 'Approve "Gardening"')


@override_settings(BANK_CACHE_SECONDS=600)
class AdminEdits(ReminderTestCase):
    """The Django admin goes around the services; its edits show on the desk's next visit too
    (members/admin.py ``BankChangedAdmin``), not after the cache's ten minutes."""

    def setUp(self) -> None:
        cache.clear()
        # The warm-up each commit queues runs here, not on a broker.
        self.enterContext(celery_eager())
        self.staff = User.objects.create(
            email="admin@example.org", is_staff=True, is_superuser=True, password="!"
        )

    def desk(self) -> tuple[dict, dict]:
        bank = TimeBank.objects.get(pk=self.riverside.pk)  # as each request reads it
        return (
            shown(follow_up_summaries(time_bank=bank)),
            queued(desk_queues(time_bank=bank)),
        )

    def fresh(self) -> tuple[dict, dict]:
        with override_settings(BANK_CACHE_SECONDS=0):
            return self.desk()

    def save_in_admin(self, obj: object, **fields: object) -> None:
        request = RequestFactory().post("/")
        request.user = self.staff
        for name, value in fields.items():
            setattr(obj, name, value)
        with self.captureOnCommitCallbacks(execute=True):
            site._registry[type(obj)].save_model(request, obj, form=None, change=True)

    def delete_in_admin(self, rows, *, bulk: bool = False) -> None:
        request = RequestFactory().post("/")
        request.user = self.staff
        model_admin = site._registry[rows.model]
        with self.captureOnCommitCallbacks(execute=True):
            if bulk:  # the list's "delete selected" action
                model_admin.delete_queryset(request, rows)
            else:
                model_admin.delete_model(request, rows.get())

    def add_person_in_admin(self) -> None:
        # The person's form, then the inline membership rows, then ``save_related``.
        request = RequestFactory().post("/")
        request.user = self.staff
        model_admin = site._registry[Person]
        person = Person(display_name="Aaron Ames")
        with self.captureOnCommitCallbacks(execute=True):
            model_admin.save_model(request, person, form=None, change=False)
            Membership.objects.create(
                person=person,
                time_bank=self.riverside,
                status=Status.APPROVED,
                decided_at=timezone.now() - timedelta(days=40),
            )
            form = type("Form", (), {"instance": person, "save_m2m": lambda self: None})()
            model_admin.save_related(request, form, formsets=[], change=False)

    def test_each_edit_shows_at_once(self):
        # Under the "flag" rule, Bob's hour takes him past the bank's limit: he is on the
        # lists and his exchange in the flagged queue, by name.
        TimeBank.objects.filter(pk=self.riverside.pk).update(
            confirmation_required=False,
            limit_rule=LimitRule.FLAG,
            default_credit_limit_minutes=-30,
        )
        Account.objects.filter(pk=self.bob_account.pk).update(credit_limit_minutes=None)
        self.riverside.refresh_from_db()
        self.bob_account.refresh_from_db()
        self.record(self.today)
        edits = {
            "a name": lambda: self.save_in_admin(
                Person.objects.get(pk=self.bob.pk), display_name="Robert Baker"
            ),
            "the bank's limit": lambda: self.save_in_admin(
                TimeBank.objects.get(pk=self.riverside.pk), default_credit_limit_minutes=-120
            ),
            "a membership suspended": lambda: self.save_in_admin(
                Membership.objects.get(person=self.alice, time_bank=self.riverside),
                status=Status.SUSPENDED,
            ),
            "a person added with a membership": self.add_person_in_admin,
            "a membership deleted": lambda: self.delete_in_admin(
                Membership.objects.filter(person=self.olive, time_bank=self.riverside)
            ),
            "memberships deleted from the list": lambda: self.delete_in_admin(
                Membership.objects.filter(person=self.bob, time_bank=self.riverside), bulk=True
            ),
        }
        for name, edit in edits.items():
            with self.subTest(name):
                before = self.desk()
                edit()
                after = self.desk()
                self.assertNotEqual(after, before)
                self.assertEqual(after, self.fresh())


def queued(queues) -> dict[str, list[tuple[int, str]]]:
    """Each queue's exchanges, with the names its rows show."""
    return {
        "to approve": [
            (
                e.pk,
                f"{e.giver.holder_name}>{e.receiver.holder_name} by {e.recorded_by.display_name}",
            )
            for e in queues.to_approve
        ],
        "waiting": [
            (e.pk, e.awaiting_confirmation_from.display_name) for e in queues.long_unconfirmed
        ],
        "flagged": [(e.pk, e.receiver.holder_name) for e in queues.flagged],
    }


@override_settings(BANK_CACHE_SECONDS=600)
class DeskQueueCache(ReminderTestCase):
    def setUp(self) -> None:
        cache.clear()
        # The warm-up each commit queues runs here, not on a broker.
        self.enterContext(celery_eager())

    def queues(self, now=None):
        return queued(desk_queues(time_bank=self.riverside, now=now))

    def fresh(self, now=None):
        with override_settings(BANK_CACHE_SECONDS=0):
            return self.queues(now)

    def rules(self, **rules) -> None:
        TimeBank.objects.filter(pk=self.riverside.pk).update(**rules)
        self.riverside.refresh_from_db()

    def test_a_second_read_makes_no_query_and_shows_the_same(self):
        self.rules(confirmation_required=False, approval_rule=ApprovalRule.ALL)
        help_bob(self)
        cache.clear()  # as if the worker had not built the desk (DeskWarmUp)
        with CaptureQueriesContext(connection) as first:
            built = self.queues()
        with CaptureQueriesContext(connection) as second:
            again = self.queues()
        self.assertEqual(len(first), 3)
        self.assertEqual(len(second), 0)
        self.assertEqual(len(built["to approve"]), 1)
        self.assertEqual(again, built)

    def test_every_write_that_changes_a_queue_shows_at_once(self):
        self.rules(confirmation_required=False, approval_rule=ApprovalRule.ALL)
        waiting = help_bob(self)

        def record() -> None:
            help_bob(self)

        def approve() -> None:
            with self.captureOnCommitCallbacks(execute=True):
                exchanges.approve_exchange(exchange=waiting, broker=self.brenda)

        def decline() -> None:
            pending = Exchange.objects.filter(state=State.AWAITING_APPROVAL).get()
            with self.captureOnCommitCallbacks(execute=True):
                exchanges.decline_exchange(exchange=pending, person=self.brenda, reason="Twice")

        def rename() -> None:
            help_bob(self)
            self.queues()  # cached with the old name
            members.update_profile(user=self.alice.user, profile=members.Profile("Alicia Adams"))

        for name, write in {
            "a new exchange to approve": record,
            "an approval": approve,
            "a decline": decline,
            "a new name": rename,
        }.items():
            with self.subTest(name):
                before = self.queues()
                write()
                after = self.queues()
                self.assertNotEqual(after, before)
                self.assertEqual(after, self.fresh())

    def test_a_confirmation_takes_the_exchange_off_the_waiting_list(self):
        recorded = at(self.today - timedelta(days=10))
        with time_machine.travel(recorded, tick=False):
            waiting = help_bob(self)
        self.assertEqual(self.queues()["waiting"], [(waiting.pk, "Bob Baker")])
        with self.captureOnCommitCallbacks(execute=True):
            exchanges.confirm_exchange(exchange=waiting, person=self.bob)
        self.assertEqual(self.queues()["waiting"], [])

    def test_an_exchange_joins_the_waiting_list_when_its_week_is_up_without_a_write(self):
        # Recorded at half past ten: a week later it shows from half past, within the hour
        # the list was cached for.
        recorded = at(self.today - timedelta(days=8), 10, 30)
        with time_machine.travel(recorded, tick=False):
            waiting = help_bob(self)
        week = recorded + timedelta(days=7)
        self.assertEqual(self.queues(now=week - timedelta(minutes=15))["waiting"], [])
        with CaptureQueriesContext(connection) as read:
            later = self.queues(now=week + timedelta(minutes=15))
        self.assertEqual(len(read), 0)
        self.assertEqual(later["waiting"], [(waiting.pk, "Bob Baker")])
        self.assertEqual(later, self.fresh(now=week + timedelta(minutes=15)))


@override_settings(BANK_CACHE_SECONDS=0)
class WithoutASharedCache(ReminderTestCase):
    def test_every_read_is_built_and_writes_bump_nothing(self):
        cache.clear()
        follow_up_summaries(time_bank=self.riverside)
        with CaptureQueriesContext(connection) as again:
            follow_up_summaries(time_bank=self.riverside)
        self.assertGreaterEqual(len(again), 7)
        self.record(timezone.localdate() - timedelta(days=1))
        self.assertIsNone(cache.get(f"bank-version:{self.riverside.pk}"))


@override_settings(
    BANK_CACHE_SECONDS=600,
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: every cache call fails at once.
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    },
)
class WhenTheCacheIsDown(ReminderTestCase):
    def test_writes_go_on_and_the_desk_is_built_each_time(self):
        self.assertIsNone(bank_version(self.riverside.pk))
        with self.assertLogs("members.versions", "WARNING"):
            exchange = self.record(timezone.localdate() - timedelta(days=1))
        exchange.refresh_from_db()
        self.assertEqual(exchange.state, "unconfirmed")
        self.client.force_login(self.brenda.user)
        with self.assertLogs("members.versions", "WARNING"):
            page = self.client.get(reverse("desk", args=["riverside"]))
        self.assertContains(page, "No exchange for six months (1)")
        self.assertContains(page, "Olive Offline")
