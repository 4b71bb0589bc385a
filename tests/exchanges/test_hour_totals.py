"""The dashboard's hour totals (given and received, in total and this month) read the
exchanges rather than the account's whole ledger; they must equal the ledger's own figures:
completed one-to-one and group help only, not donations, grants, reversed or unconfirmed;
donations and grants apart, so that together they add up to the balance."""

from datetime import timedelta

from django.db.models import Q, Sum
from django.utils import timezone

from exchanges import services
from exchanges.models import Kind, State, hour_totals
from ledger import services as ledger
from ledger.models import Entry
from members.models import ApprovalRule
from tests.base import CastTestCase


def from_the_ledger(account, since) -> dict[str, int]:
    """The same figures from every entry on the account (what the dashboard used to read)."""
    rows = Entry.objects.filter(
        account=account,
        journal__exchange__state=State.COMPLETED,
        journal__exchange__kind__in=[Kind.SERVICE, Kind.GROUP],
    )
    given, received = Q(amount_minutes__gt=0), Q(amount_minutes__lt=0)
    recent = Q(journal__effective_date__gte=since)
    totals = rows.aggregate(
        given=Sum("amount_minutes", filter=given),
        received=Sum("amount_minutes", filter=received),
        given_recently=Sum("amount_minutes", filter=given & recent),
        received_recently=Sum("amount_minutes", filter=received & recent),
    )
    gifts = Entry.objects.filter(
        account=account,
        journal__exchange__state=State.COMPLETED,
        journal__exchange__kind__in=[Kind.DONATION, Kind.GRANT],
    ).aggregate(
        gifts_in=Sum("amount_minutes", filter=given),
        gifts_out=Sum("amount_minutes", filter=received),
    )
    return {name: abs(value or 0) for name, value in {**totals, **gifts}.items()}


class HourTotals(CastTestCase):
    def test_the_totals_equal_the_ledgers_figures(self):
        self.riverside.approval_rule = ApprovalRule.NONE
        self.riverside.save()
        alice = ledger.open_account(time_bank=self.riverside, person=self.alice)
        bob = ledger.open_account(time_bank=self.riverside, person=self.bob)
        olive = ledger.open_account(time_bank=self.riverside, person=self.olive)
        pot = ledger.community_pot(time_bank=self.riverside)
        today = timezone.localdate()
        month_start = today.replace(day=1)

        def details(days_ago: int, what: str) -> services.Details:
            return services.Details(
                effective_date=today - timedelta(days=days_ago), description=what
            )

        # One-to-one help both ways, this month and earlier.
        services.record_exchange(
            recorded_by=self.brenda, giver=alice, receiver=bob, minutes=60, details=details(0, "a")
        )
        services.record_exchange(
            recorded_by=self.brenda, giver=bob, receiver=alice, minutes=45, details=details(40, "b")
        )
        services.record_exchange(
            recorded_by=self.brenda,
            giver=alice,
            receiver=olive,
            minutes=30,
            details=details(70, "c"),
        )
        # A group exchange: Alice and Olive help Bob.
        services.record_group_exchange(
            recorded_by=self.brenda,
            time_bank=self.riverside,
            providers=[(alice, 90), (olive, 30)],
            receivers=[(bob, 120)],
            details=details(1, "group"),
        )
        services.record_group_exchange(
            recorded_by=self.brenda,
            time_bank=self.riverside,
            providers=[(bob, 30)],
            receivers=[(alice, 30)],
            details=details(50, "group 2"),
        )
        # Not help between members: a donation, a grant; a reversed exchange; unconfirmed.
        services.donate_hours(
            recorded_by=self.alice, donor=alice, to_account=pot, minutes=15, note="For anyone"
        )
        services.grant_from_pot(
            broker=self.brenda,
            time_bank=self.riverside,
            to_account=alice,
            minutes=15,
            reason="Welcome",
        )
        wrong = services.record_exchange(
            recorded_by=self.brenda,
            giver=alice,
            receiver=bob,
            minutes=75,
            details=details(2, "wrong"),
        )
        services.reverse_exchange(exchange=wrong, broker=self.brenda, reason="Recorded twice")
        services.record_exchange(
            recorded_by=self.alice,
            giver=alice,
            receiver=bob,
            minutes=15,
            details=details(0, "waits"),
        )

        for account in (alice, bob, olive):
            with self.subTest(account=account.holder_name):
                totals = hour_totals(account, since=month_start)
                self.assertEqual(totals, from_the_ledger(account, month_start))
                # What the member reads adds up to their balance.
                self.assertEqual(
                    totals["given"] - totals["received"] + totals["gifts_in"] - totals["gifts_out"],
                    ledger.balance(account=account).posted,
                )
        self.assertEqual(
            hour_totals(alice, since=today - timedelta(days=45)),
            {
                "given": 180,
                "received": 75,
                "given_recently": 150,
                "received_recently": 45,
                "gifts_in": 15,
                "gifts_out": 15,
            },
        )
