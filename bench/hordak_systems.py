"""django-hordak 2.0.0 as the comparison: plain ``transfer_to``, and guarded with a lock + limit.

Run in processes configured with ``bench.settings_hordak``. Every account is a liability
account (credit-normal) in the currency ``MIN``, so "Alice pays Bob" is
``bob.transfer_to(alice, amount)``: hordak 2.0 credits ``self`` and debits ``to_account``.

hordak has no idempotency key, so the workload's replays are not sent to it; it has no credit
limit either, so the plain variant never refuses.
"""

from __future__ import annotations

import psycopg

from bench.workload import Op


def seed(*, limits: list[int | None]) -> None:
    """Create one hordak account per limit (the last one is the community pot)."""
    from hordak.models import Account

    for i in range(len(limits)):
        name = f"m{i:04d}" if i < len(limits) - 1 else "pot"
        Account.objects.create(name=name, code=f"{i:04d}", type="LI", currencies=["MIN"])


class HordakClient:
    """One worker; ``call`` posts one transfer the way a hordak user would."""

    guarded = False

    def __init__(self, limits: list[int | None]) -> None:
        from django.db import connection
        from djmoney.money import Money
        from hordak.models import Account

        self.Money = Money
        self.Account = Account
        self.accounts = list(Account.objects.order_by("code"))
        self.limits = limits
        connection.ensure_connection()
        self.connection = connection

    def backend_pid(self) -> int:
        return self.connection.connection.info.backend_pid

    def call(self, op: Op) -> tuple[str, int | None]:
        payer, payee = self.accounts[op.payer], self.accounts[op.payee]
        tx = payee.transfer_to(
            payer, self.Money(op.minutes, "MIN"), description=f"Exchange {op.key}"
        )
        return "ok", tx.pk


class GuardedHordakClient(HordakClient):
    """hordak with the semantics ours has besides idempotency: both accounts locked in id
    order, then the payer's balance (the sum of its legs) checked against its limit."""

    guarded = True

    def call(self, op: Op) -> tuple[str, int | None]:
        from django.db import transaction

        payer, payee = self.accounts[op.payer], self.accounts[op.payee]
        with transaction.atomic():
            list(
                self.Account.objects.select_for_update()
                .filter(id__in=[payer.id, payee.id])
                .order_by("id")
                .values_list("id", flat=True)
            )
            limit = self.limits[op.payer]
            # The pot has no limit, so nothing to check (and no history to sum).
            if limit is not None:
                balance = self.Account.objects.with_balances().get(id=payer.id).balance
                current = sum((m.amount for m in balance.monies()), 0)
                if current - op.minutes < limit:
                    return "refused", None
            tx = payee.transfer_to(
                payer, self.Money(op.minutes, "MIN"), description=f"Exchange {op.key}"
            )
        return "ok", tx.pk


def verify(conn: psycopg.Connection, *, limits: list[int | None] | None) -> list[str]:
    """Legs balance per transaction and overall; each transaction has exactly two legs; with
    ``limits`` (the guarded variant), no account is past its limit."""
    problems = []
    checks = {
        "a transaction's legs do not sum to zero": """
            SELECT transaction_id FROM hordak_leg GROUP BY transaction_id
            HAVING sum(coalesce(credit, 0)) <> sum(coalesce(debit, 0))""",
        "a transaction does not have exactly two legs": """
            SELECT t.id FROM hordak_transaction t LEFT JOIN hordak_leg l ON l.transaction_id = t.id
            GROUP BY t.id HAVING count(l.id) <> 2""",
        "all legs do not sum to zero": """
            SELECT 1 FROM hordak_leg HAVING sum(coalesce(credit, 0)) <> sum(coalesce(debit, 0))""",
    }
    for problem, sql in checks.items():
        rows = conn.execute(sql).fetchall()
        if rows:
            problems.append(f"hordak: {problem}: {len(rows)} rows, e.g. {rows[0]}")
    if limits is not None:
        rows = conn.execute(
            """SELECT a.code, coalesce(sum(coalesce(l.credit, 0) - coalesce(l.debit, 0)), 0)
               FROM hordak_account a LEFT JOIN hordak_leg l ON l.account_id = a.id
               GROUP BY a.code ORDER BY a.code"""
        ).fetchall()
        for index, (code, balance) in enumerate(rows):
            if limits[index] is not None and balance < limits[index]:
                problems.append(
                    f"hordak: account {code} at {balance} is past its limit {limits[index]}"
                )
    return problems


def transaction_count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM hordak_transaction").fetchone()[0]


def exchange_count(conn: psycopg.Connection) -> int:
    """Transactions the workload posted (not the preloaded history)."""
    return conn.execute(
        "SELECT count(*) FROM hordak_transaction WHERE description LIKE 'Exchange %'"
    ).fetchone()[0]


# The same history as the other systems: the pot pays a member, the member pays it back.
# hordak's deferred per-leg trigger would re-sum every transaction at commit; the legs below
# balance by construction, so triggers are off for the bulk load (session_replication_role).
PRELOAD = [
    "SET session_replication_role = replica",
    """
    INSERT INTO hordak_transaction (uuid, timestamp, date, description)
    SELECT gen_random_uuid(), t, t::date, %(prefix)s || i
    FROM generate_series(0, %(n)s - 1) AS i,
         LATERAL (SELECT now() - interval '1 day' * (%(days_from)s
                  - (%(days_from)s - %(days_to)s) * i::float8 / %(n)s) AS t) ts
    """,
    """
    INSERT INTO hordak_leg (uuid, transaction_id, account_id, currency, credit, debit, description)
    SELECT gen_random_uuid(), t.id, v.account_id, 'MIN', v.credit, v.debit, ''
    FROM hordak_transaction t
    CROSS JOIN LATERAL (SELECT substr(t.description, length(%(prefix)s) + 1)::bigint AS i) s
    CROSS JOIN LATERAL (
        SELECT 15 + (s.i / 2) %% 106 AS amount,
               (%(members)s::bigint[])[1 + (s.i / 2) %% cardinality(%(members)s::bigint[])] AS member
    ) p
    CROSS JOIN LATERAL (VALUES
        (%(pot)s::bigint, CASE WHEN s.i %% 2 = 1 THEN p.amount END,
                          CASE WHEN s.i %% 2 = 0 THEN p.amount END),
        (p.member, CASE WHEN s.i %% 2 = 0 THEN p.amount END, CASE WHEN s.i %% 2 = 1 THEN p.amount END)
    ) v(account_id, credit, debit)
    WHERE t.description LIKE %(prefix)s || '%%'
    """,
    "SET session_replication_role = DEFAULT",
]


def preload(
    conn: psycopg.Connection,
    *,
    entries_on_pot: int,
    prefix: str = "history-",
    days: tuple[int, int] = (730, 0),
) -> None:
    ids = [r[0] for r in conn.execute("SELECT id FROM hordak_account ORDER BY code").fetchall()]
    params = {
        "n": entries_on_pot,
        "pot": ids[-1],
        "members": ids[:-1],
        "prefix": prefix,
        "days_from": days[0],
        "days_to": days[1],
    }
    for statement in PRELOAD:
        conn.execute(statement, params if "%(" in statement else None)
