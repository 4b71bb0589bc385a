"""Every audited action writes exactly one event, in its own transaction; replays write none;
the database refuses to change or delete an event."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from exchanges import services as exchanges
from exchanges.models import Exchange
from ledger import services as ledger
from members import services as members
from members.models import ApprovalRule, Membership
from tests.base import CastTestCase
from tests.support import user_of


def details() -> exchanges.Details:
    return exchanges.Details(
        effective_date=timezone.localdate() - timedelta(days=1), description="Gardening"
    )


class AuditedActions(CastTestCase):
    def setUp(self) -> None:
        self.alice_account = ledger.open_account(time_bank=self.riverside, person=self.alice)
        self.bob_account = ledger.open_account(time_bank=self.riverside, person=self.bob)

    def record(self, by=None, key: str | None = None) -> Exchange:
        return exchanges.record_exchange(
            recorded_by=by or self.alice,
            giver=self.alice_account,
            receiver=self.bob_account,
            minutes=60,
            details=details(),
            idempotency_key=key,
        )

    def assert_one_event(self, action: str, actor, obj) -> AuditEvent:  # noqa: ANN001
        events = list(AuditEvent.objects.filter(action=action))
        self.assertEqual(len(events), 1, f"{action}: {events}")
        event = events[0]
        self.assertEqual(
            (event.actor, event.time_bank, event.object_type, event.object_id),
            (actor, self.riverside, obj._meta.label_lower, obj.pk),
        )
        return event

    def test_recording_an_exchange_writes_one_event_with_its_minutes(self):
        exchange = self.record()
        event = self.assert_one_event(Action.EXCHANGE_RECORDED, self.alice, exchange)
        self.assertEqual(event.details, {"minutes": 60, "state": "unconfirmed"})
        self.assertEqual(AuditEvent.objects.count(), 1)

    def test_a_replayed_exchange_writes_no_second_event(self):
        first = self.record(key="abc")
        again = self.record(key="abc")
        self.assertEqual(first.pk, again.pk)
        self.assertEqual(AuditEvent.objects.count(), 1)

    def test_a_group_exchange_writes_one_event_and_its_replay_none(self):
        for _ in range(2):
            exchange = exchanges.record_group_exchange(
                recorded_by=self.brenda,
                time_bank=self.riverside,
                providers=[(self.alice_account, 60)],
                receivers=[(self.bob_account, 60)],
                details=details(),
                idempotency_key="group-1",
            )
        self.assert_one_event(Action.EXCHANGE_RECORDED, self.brenda, exchange)

    def test_confirming_writes_one_event_by_the_confirmer(self):
        exchange = exchanges.confirm_exchange(exchange=self.record(), person=self.bob)
        self.assert_one_event(Action.EXCHANGE_CONFIRMED, self.bob, exchange)

    def test_an_automatic_confirmation_is_recorded_with_no_actor(self):
        exchange = exchanges.confirm_exchange(exchange=self.record(), person=None)
        self.assertIsNone(self.assert_one_event(Action.EXCHANGE_CONFIRMED, None, exchange).actor)

    def test_approving_writes_one_event_by_the_broker(self):
        self.riverside.approval_rule = ApprovalRule.ALL
        self.riverside.save()
        exchange = exchanges.approve_exchange(exchange=self.record(), broker=self.brenda)
        self.assert_one_event(Action.EXCHANGE_APPROVED, self.brenda, exchange)

    def test_declining_writes_one_event_and_not_the_reason(self):
        exchange = exchanges.decline_exchange(
            exchange=self.record(), person=self.bob, reason="It was 30 minutes"
        )
        event = self.assert_one_event(Action.EXCHANGE_DECLINED, self.bob, exchange)
        self.assertNotIn("30 minutes", str(event.details))

    def test_reversing_writes_one_event_by_the_broker(self):
        exchange = exchanges.reverse_exchange(
            exchange=self.record(by=self.brenda), broker=self.brenda, reason="Wrong people"
        )
        event = self.assert_one_event(Action.EXCHANGE_REVERSED, self.brenda, exchange)
        self.assertEqual(event.details, {"reversal_journal": exchange.reversal_id})

    def test_a_donation_and_a_grant_write_one_event_each(self):
        pot = ledger.community_pot(time_bank=self.riverside)
        donation = exchanges.donate_hours(
            recorded_by=self.alice, donor=self.alice_account, to_account=pot, minutes=60
        )
        grant = exchanges.grant_from_pot(
            broker=self.brenda,
            time_bank=self.riverside,
            to_account=self.bob_account,
            minutes=30,
            reason="Welcome",
        )
        self.assert_one_event(Action.DONATION_MADE, self.alice, donation)
        event = self.assert_one_event(Action.GRANT_MADE, self.brenda, grant)
        self.assertEqual(event.details, {"minutes": 30, "to_account": self.bob_account.pk})

    def test_deciding_applications_and_adding_an_offline_member_write_one_event_each(self):
        dora = Membership.objects.get(person=self.dora, time_bank=self.riverside)
        approved = members.approve_membership(membership=dora, broker=self.brenda)
        self.assert_one_event(Action.MEMBERSHIP_APPROVED, self.brenda, approved)
        harry = Membership.objects.get(person=self.harry)
        declined = members.decline_membership(membership=harry, broker=self.hugo, reason="No")
        event = AuditEvent.objects.get(action=Action.MEMBERSHIP_DECLINED)
        self.assertEqual(
            (event.actor, event.time_bank, event.object_id), (self.hugo, self.hillside, declined.pk)
        )
        added = members.create_offline_member(
            time_bank=self.riverside,
            broker=self.brenda,
            profile=members.Profile(display_name="Olga Offline"),
        )
        self.assert_one_event(Action.MEMBER_ADDED_OFFLINE, self.brenda, added)

    def test_a_refused_action_writes_nothing(self):
        exchange = self.record()
        with self.assertRaises(PermissionDenied):
            exchanges.approve_exchange(exchange=exchange, broker=self.bob)
        self.assertEqual(AuditEvent.objects.exclude(action=Action.EXCHANGE_RECORDED).count(), 0)

    def test_a_report_download_writes_one_event_per_bank_and_a_page_view_none(self):
        end = timezone.localdate().replace(day=1) - timedelta(days=1)
        period = {"start": end.replace(day=1).isoformat(), "end": end.isoformat()}
        self.client.force_login(user_of(self.cora))
        url = reverse("commissioner-report", args=["riverside"])
        self.assertEqual(self.client.get(url, period).status_code, 200)
        self.assertFalse(AuditEvent.objects.exists())
        response = self.client.get(reverse("commissioner-report-csv", args=["riverside"]), period)
        self.assertEqual(response.status_code, 200)
        event = AuditEvent.objects.get()
        self.assertEqual(
            (event.action, event.actor, event.time_bank, event.object_type),
            (Action.REPORT_DOWNLOADED, self.cora, self.riverside, "reports.reportdownload"),
        )
        self.assertEqual(event.details["format"], "csv")


class AppendOnly(CastTestCase):
    def setUp(self) -> None:
        self.event = AuditEvent.objects.create(
            action=Action.MEMBERSHIP_APPROVED, actor=self.brenda, time_bank=self.riverside
        )

    def test_the_database_refuses_to_change_an_event(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE audit_auditevent SET action = %s WHERE id = %s",
                    ["exchange.recorded", self.event.pk],
                )
        self.event.refresh_from_db()
        self.assertEqual(self.event.action, Action.MEMBERSHIP_APPROVED)

    def test_the_database_refuses_to_delete_an_event(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [self.event.pk])
        self.assertTrue(AuditEvent.objects.filter(pk=self.event.pk).exists())

    def test_the_orm_cannot_change_or_delete_one_either(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(pk=self.event.pk).update(details={"x": 1})
        with self.assertRaises(DatabaseError), transaction.atomic():
            self.event.delete()
        self.assertEqual(AuditEvent.objects.count(), 1)
