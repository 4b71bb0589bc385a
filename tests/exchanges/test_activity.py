"""When each member last had help, gave and received (``Membership.last_help_on`` and the
rest, read by the brokers' follow-up lists) follows every change to their exchanges, and is
what a rebuild from the exchanges gives. On PostgreSQL, exchanges recorded for one member at
the same moment leave the latest date."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from unittest import skipUnless

from django.db import connection
from django.test import TransactionTestCase
from django.utils import timezone

from exchanges import services
from ledger import services as ledger
from members.models import Membership
from tests.base import Cast, CastTestCase
from tests.factories import make_member

TODAY = timezone.localdate()


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


class Activity(CastTestCase):
    def setUp(self) -> None:
        self.accounts = {
            p.display_name.split()[0].lower(): ledger.open_account(
                time_bank=self.riverside, person=p
            )
            for p in (self.alice, self.bob, self.olive)
        }

    def dates(self, person) -> tuple[date | None, date | None, date | None]:
        m = Membership.objects.get(person=person, time_bank=self.riverside)
        return m.last_help_on, m.last_gave_on, m.last_received_on

    def record(self, giver: str, receiver: str, *, on: date, by=None):
        return services.record_exchange(
            recorded_by=by or self.brenda,
            giver=self.accounts[giver],
            receiver=self.accounts[receiver],
            minutes=60,
            details=services.Details(effective_date=on, description="Shopping"),
        )

    def assert_rebuild_agrees(self) -> None:
        stored = list(
            Membership.objects.order_by("pk").values_list(
                "pk", "last_help_on", "last_gave_on", "last_received_on"
            )
        )
        for bank in (self.riverside, self.hillside):
            services.refresh_activity(time_bank=bank)
        rebuilt = list(
            Membership.objects.order_by("pk").values_list(
                "pk", "last_help_on", "last_gave_on", "last_received_on"
            )
        )
        self.assertEqual(stored, rebuilt)

    def test_a_member_with_no_exchange_has_no_dates(self):
        self.assertEqual(self.dates(self.alice), (None, None, None))

    def test_an_exchange_waiting_to_be_confirmed_counts_as_help_but_not_as_given_yet(self):
        exchange = self.record("alice", "bob", on=days_ago(3), by=self.alice)
        self.assertEqual(exchange.state, "unconfirmed")
        self.assertEqual(self.dates(self.alice), (days_ago(3), None, None))
        self.assertEqual(self.dates(self.bob), (days_ago(3), None, None))
        services.confirm_exchange(exchange=exchange, person=self.bob)
        self.assertEqual(self.dates(self.alice), (days_ago(3), days_ago(3), None))
        self.assertEqual(self.dates(self.bob), (days_ago(3), None, days_ago(3)))
        self.assert_rebuild_agrees()

    def test_an_earlier_exchange_recorded_later_leaves_the_latest_date(self):
        self.record("alice", "bob", on=days_ago(2))
        self.record("bob", "alice", on=days_ago(40))
        self.assertEqual(self.dates(self.alice), (days_ago(2), days_ago(2), days_ago(40)))
        self.assertEqual(self.dates(self.bob), (days_ago(2), days_ago(40), days_ago(2)))
        self.assert_rebuild_agrees()

    def test_a_declined_exchange_no_longer_counts(self):
        self.record("alice", "bob", on=days_ago(50))
        waiting = self.record("alice", "bob", on=days_ago(1), by=self.alice)
        self.assertEqual(self.dates(self.alice)[0], days_ago(1))
        services.decline_exchange(exchange=waiting, person=self.bob, reason="It was not me")
        self.assertEqual(self.dates(self.alice), (days_ago(50), days_ago(50), None))
        self.assert_rebuild_agrees()

    def test_a_broker_approval_and_a_reversal_move_the_dates_both_ways(self):
        waiting = self.record("olive", "bob", on=days_ago(5), by=self.bob)  # olive is offline
        self.assertEqual(waiting.state, "awaiting_approval")
        self.assertEqual(self.dates(self.olive), (days_ago(5), None, None))
        services.approve_exchange(exchange=waiting, broker=self.brenda)
        self.assertEqual(self.dates(self.olive), (days_ago(5), days_ago(5), None))
        services.reverse_exchange(exchange=waiting, broker=self.brenda, reason="Recorded twice")
        self.assertEqual(self.dates(self.olive), (None, None, None))
        self.assertEqual(self.dates(self.bob), (None, None, None))
        self.assert_rebuild_agrees()

    def test_a_group_exchange_counts_for_every_member_in_it_and_not_for_the_organisation(self):
        gp = ledger.open_account(time_bank=self.riverside, organisation=self.gp)
        services.record_group_exchange(
            recorded_by=self.brenda,
            time_bank=self.riverside,
            providers=[(self.accounts["alice"], 60), (self.accounts["olive"], 60)],
            receivers=[(self.accounts["bob"], 60), (gp, 60)],
            details=services.Details(effective_date=days_ago(7), description="Lunch club"),
        )
        self.assertEqual(self.dates(self.alice), (days_ago(7), days_ago(7), None))
        self.assertEqual(self.dates(self.olive), (days_ago(7), days_ago(7), None))
        self.assertEqual(self.dates(self.bob), (days_ago(7), None, days_ago(7)))
        self.assert_rebuild_agrees()

    def test_donations_and_grants_are_not_help(self):
        # The pot has no lower limit: a broker may grant from it before anyone has donated.
        services.grant_from_pot(
            broker=self.brenda,
            time_bank=self.riverside,
            to_account=self.accounts["alice"],
            minutes=60,
            reason="Welcome hours",
        )
        services.donate_hours(
            recorded_by=self.alice,
            donor=self.accounts["alice"],
            to_account=self.accounts["bob"],
            minutes=30,
        )
        self.assertEqual(self.dates(self.alice), (None, None, None))
        self.assertEqual(self.dates(self.bob), (None, None, None))
        self.assert_rebuild_agrees()

    def test_the_rebuild_mends_dates_written_by_hand(self):
        self.record("alice", "bob", on=days_ago(9))
        Membership.objects.filter(person=self.alice).update(
            last_help_on=None, last_gave_on=days_ago(400)
        )
        updated = services.refresh_activity(time_bank=self.riverside)
        self.assertEqual(updated, Membership.objects.filter(time_bank=self.riverside).count())
        self.assertEqual(self.dates(self.alice), (days_ago(9), days_ago(9), None))


@skipUnless(connection.vendor == "postgresql", "needs real parallel connections: PostgreSQL only")
class ActivityUnderConcurrency(Cast, TransactionTestCase):
    def test_exchanges_recorded_for_one_member_at_once_leave_the_latest_dates(self):
        self.build_cast()
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        others = []
        for n in range(6):
            person = make_member(self.riverside, f"Neighbour {n}")
            others.append(ledger.open_account(time_bank=self.riverside, person=person))
        barrier = threading.Barrier(len(others))
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                barrier.wait()
                # Each neighbour helps alice on a different day; the latest is 1 day ago.
                services.record_exchange(
                    recorded_by=self.brenda,
                    giver=others[n],
                    receiver=alice,
                    minutes=30,
                    details=services.Details(effective_date=days_ago(n + 1), description="Lift"),
                )
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(len(others))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        membership = Membership.objects.get(person=self.alice, time_bank=self.riverside)
        self.assertEqual(
            (membership.last_help_on, membership.last_gave_on, membership.last_received_on),
            (days_ago(1), None, days_ago(1)),
        )
