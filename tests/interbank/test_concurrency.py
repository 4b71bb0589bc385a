"""Real parallel connections on PostgreSQL: members of two linked banks record exchanges in
both directions at once, against tight trust limits, retrying keys, while others decide."""

from __future__ import annotations

import random
import threading
from collections import Counter
from unittest import skipUnless

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count
from django.test import TransactionTestCase

from exchanges.exceptions import AlreadyDecided, PastLimit
from exchanges.models import Exchange, State
from interbank import services
from interbank.models import CrossBankExchange, Link
from ledger import services as ledger
from ledger.models import Account, AccountKind, Journal
from members.models import TimeBank
from tests.base import Cast
from tests.factories import make_member
from tests.ledger.test_concurrency import WORKERS, run_in_threads

from .support import LinkedBanks, details

TRUST = 120  # each bank lets its members give two hours more than they received


@skipUnless(connection.vendor == "postgresql", "needs real parallel connections: PostgreSQL only")
class ParallelExchangesAcrossALink(LinkedBanks, Cast, TransactionTestCase):
    def setUp(self) -> None:
        self.build_cast()
        self.build_linked()
        # Members record what they received: posted at once where the giver's bank does not
        # ask for confirmation; some record what they gave, which holds the hours until the
        # other confirms (a hold counts against the trust limit too).
        TimeBank.objects.filter(pk__in=[self.riverside.pk, self.hillside.pk]).update(
            confirmation_required=False
        )
        self.link(riverside_limit=TRUST, hillside_limit=TRUST)
        self.people = {
            self.riverside.pk: [self.alice, self.bob]
            + [make_member(self.riverside, f"River {i}") for i in range(3)],
            self.hillside.pk: [self.hal, self.hetty]
            + [make_member(self.hillside, f"Hill {i}") for i in range(3)],
        }
        self.accounts = {}
        for bank_id, people in self.people.items():
            bank = TimeBank.objects.get(pk=bank_id)
            for person in people:
                self.accounts[person.pk] = ledger.open_account(time_bank=bank, person=person)
        # Members' own limits out of the way: the trust limits are what is tested.
        Account.objects.filter(kind=AccountKind.MEMBER).update(credit_limit_minutes=None)

    def test_parallel_exchanges_both_ways_keep_every_invariant(self) -> None:
        rng = random.Random(25)
        river, hill = self.people[self.riverside.pk], self.people[self.hillside.pk]
        ops = []
        for i in range(80):
            if rng.random() < 0.5:
                me, other = rng.choice(river), rng.choice(hill)
            else:
                me, other = rng.choice(hill), rng.choice(river)
            ops.append((f"op-{i}", me, other, rng.random() < 0.25, rng.choice([15, 30, 45, 60])))
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        fresh = Account.objects.select_related("time_bank")

        def work(worker: int) -> None:
            mine = list(ops)
            random.Random(worker).shuffle(mine)
            # Overlapping halves: every key is sent by several workers at once.
            for key, me, other, gave, minutes in mine[: len(mine) // 2 + worker * 4]:
                try:
                    cross = services.record_between_banks(
                        recorded_by=me,
                        own=fresh.get(pk=self.accounts[me.pk].pk),
                        other=fresh.get(pk=self.accounts[other.pk].pk),
                        gave=gave,
                        minutes=minutes,
                        details=details(f"Help {key}"),
                        idempotency_key=key,
                    )
                    outcome = "recorded"
                    # Half the held ones are confirmed or declined by the other member.
                    if cross.giving.state == State.UNCONFIRMED and worker % 2:
                        try:
                            if worker % 4 == 1:
                                services.confirm(cross=cross, person=other)
                            else:
                                services.decline(cross=cross, person=other, reason="Not me")
                        except AlreadyDecided:
                            pass
                except PastLimit as refused:
                    outcome = "refused"
                    assert "trust limit" in str(refused), refused
                except ValidationError:
                    outcome = "invalid"
                with lock:
                    outcomes[outcome] += 1

        errors = run_in_threads(work)
        self.assertEqual(errors, [])
        self.assertGreater(outcomes["refused"], 0, outcomes)
        self.assertGreater(outcomes["recorded"], 0, outcomes)
        self.assertEqual(outcomes["invalid"], 0, outcomes)

        # Each bank sums to zero, the mirrors are equal and opposite, every check is clean.
        self.assertEqual(ledger.verify_ledger(), [])
        link = Link.objects.get()
        mirrors = Account.objects.filter(pk__in=[link.proposer_mirror_id, link.partner_mirror_id])
        by_bank = {m.time_bank_id: m for m in mirrors}
        river_mirror, hill_mirror = by_bank[self.riverside.pk], by_bank[self.hillside.pk]
        self.assertEqual(river_mirror.posted_minutes, -hill_mirror.posted_minutes)
        self.assertEqual(river_mirror.pending_out_minutes, hill_mirror.pending_in_minutes)
        self.assertEqual(river_mirror.pending_in_minutes, hill_mirror.pending_out_minutes)
        for bank_id in (self.riverside.pk, self.hillside.pk):
            total = sum(
                Account.objects.filter(time_bank_id=bank_id).values_list(
                    "posted_minutes", flat=True
                )
            )
            self.assertEqual(total, 0)
        # No trust limit breached, counting holds.
        for mirror in (river_mirror, hill_mirror):
            self.assertGreaterEqual(mirror.posted_minutes - mirror.pending_out_minutes, -TRUST)
        # Both banks traded, and the limits were reached in both directions.
        self.assertTrue(Exchange.objects.filter(between_banks=True, time_bank=self.riverside))
        # No key has two journals: one cross-bank exchange per key, two journals each (one
        # per bank), and both halves of each in the same state.
        crosses = CrossBankExchange.objects.select_related("giving", "receiving")
        self.assertEqual(crosses.count(), len({c.transaction_id for c in crosses}))
        self.assertLessEqual(crosses.count(), len(ops))
        keyed = (
            Journal.objects.filter(idempotency_key__startswith="interbank-")
            .values("idempotency_key")
            .annotate(n=Count("pk"), banks=Count("time_bank", distinct=True))
        )
        self.assertEqual(len(keyed), crosses.count())
        self.assertEqual({(row["n"], row["banks"]) for row in keyed}, {(2, 2)})
        self.assertEqual(
            Journal.objects.values("time_bank", "idempotency_key")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .count(),
            0,
        )
        for cross in crosses:
            self.assertEqual(cross.giving.state, cross.receiving.state)
        self.assertEqual(WORKERS, 8)
