"""The workload every system runs: the same accounts and the same list of operations.

A time bank of ``members`` member accounts and one community pot. One member in ten has a
tight credit limit (-60 minutes instead of the bank's -600) and pays twice as often, so the
limit check refuses some transfers in every system that checks limits. A share of operations
replays an earlier idempotency key with the same payload (a browser retry); it must not
create a second journal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_LIMIT = -600  # minutes, the time bank's policy (-10 hours)
TIGHT_LIMIT = -60  # minutes, the members who are near their limit
POT_LIMIT = None  # the community pot has no lower limit, as in the ledger


@dataclass(frozen=True)
class Op:
    """One call: ``payer`` pays ``payee`` ``minutes``; account indexes, ``members`` is the pot."""

    key: str
    payer: int
    payee: int
    minutes: int
    replay: bool


def account_limits(members: int) -> list[int | None]:
    """Credit limit per account index; the last index is the community pot."""
    limits = [TIGHT_LIMIT if i % 10 == 0 else DEFAULT_LIMIT for i in range(members)]
    return [*limits, POT_LIMIT]


def make_ops(
    *, count: int, members: int, hot_pct: int, replay_pct: int, seed: int, prefix: str
) -> list[Op]:
    """``count`` operations: ``hot_pct`` % touch the pot (half in, half out), the rest are
    member-to-member exchanges of 15-120 minutes; ``replay_pct`` % replay a recent key."""
    rng = random.Random(seed)
    pot = members
    payer_weights = [2 if i % 10 == 0 else 1 for i in range(members)]
    ops: list[Op] = []
    for i in range(count):
        if ops and rng.randrange(100) < replay_pct:
            original = ops[rng.randrange(max(0, len(ops) - 200), len(ops))]
            ops.append(Op(original.key, original.payer, original.payee, original.minutes, True))
            continue
        minutes = rng.randint(15, 120)
        roll = rng.randrange(200)
        if roll < hot_pct:
            payer, payee = pot, rng.randrange(members)
        elif roll < 2 * hot_pct:
            payer, payee = rng.choices(range(members), weights=payer_weights)[0], pot
        else:
            payer = rng.choices(range(members), weights=payer_weights)[0]
            payee = rng.randrange(members - 1)
            payee += payee >= payer
        ops.append(Op(f"{prefix}-{i}", payer, payee, minutes, False))
    return ops


def split(ops: list[Op], workers: int) -> list[list[Op]]:
    """Round-robin, so a replay usually runs in a different process from its original."""
    return [ops[w::workers] for w in range(workers)]
