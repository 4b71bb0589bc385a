"""History for our ledger, loaded set-based for the history phase (1,000,000 pot entries).

Posting a million transfers through the service would take ten minutes, so the history is
written straight into the ledger's tables: pairs of journals, the community pot paying a
member and the member paying it back, spread over the past two years, with the running
balance and version on every entry exactly as the posting code writes them. The ledger's
triggers are off for the bulk load (``session_replication_role``); ``verify_ledger()`` then
checks the result before any cell uses it.
"""

from __future__ import annotations

import psycopg

PRELOAD = [
    "SET session_replication_role = replica",
    """
    INSERT INTO ledger_journal
        (time_bank_id, state, effective_date, recorded_at, description, category,
         idempotency_key, fingerprint, decision_reason)
    SELECT %(bank)s, 'posted', t::date, t, 'History', '', %(prefix)s || i, 'history', ''
    FROM generate_series(0, %(n)s - 1) AS i,
         LATERAL (SELECT now() - interval '1 day' * (%(days_from)s
                  - (%(days_from)s - %(days_to)s) * i::float8 / %(n)s) AS t) ts
    """,
    """
    INSERT INTO ledger_entry
        (journal_id, account_id, amount_minutes, balance_after, account_version, posted_at)
    SELECT x.id, x.account_id, x.amount,
           base.posted_minutes + sum(x.amount) OVER w, base.version + row_number() OVER w, x.recorded_at
    FROM (
        SELECT j.id, j.recorded_at, s.i, v.account_id, v.amount
        FROM ledger_journal j
        CROSS JOIN LATERAL (SELECT substr(j.idempotency_key, length(%(prefix)s) + 1)::bigint AS i) s
        CROSS JOIN LATERAL (
            SELECT 15 + (s.i / 2) %% 106 AS minutes,
                   (%(members)s::bigint[])[1 + (s.i / 2) %% cardinality(%(members)s::bigint[])] AS member
        ) p
        CROSS JOIN LATERAL (VALUES
            (%(pot)s::bigint, CASE WHEN s.i %% 2 = 0 THEN -p.minutes ELSE p.minutes END),
            (p.member, CASE WHEN s.i %% 2 = 0 THEN p.minutes ELSE -p.minutes END)
        ) v(account_id, amount)
        WHERE j.time_bank_id = %(bank)s AND j.idempotency_key LIKE %(prefix)s || '%%'
    ) x
    JOIN ledger_account base ON base.id = x.account_id
    WINDOW w AS (PARTITION BY x.account_id ORDER BY x.i)
    """,
    """
    UPDATE ledger_account a SET version = e.n
    FROM (SELECT account_id, count(*) AS n FROM ledger_entry GROUP BY account_id) e
    WHERE e.account_id = a.id
    """,
    "SET session_replication_role = DEFAULT",
]


def preload(
    conn: psycopg.Connection,
    *,
    time_bank_id: int,
    entries_on_pot: int,
    prefix: str = "history-",
    days: tuple[int, int] = (730, 0),
) -> None:
    """Give the pot ``entries_on_pot`` posted entries of history between ``days[0]`` and
    ``days[1]`` days ago, keyed ``prefix<n>`` (members' balances end unchanged). Loads stack:
    each one continues the running balances and versions of the one before."""
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM ledger_account WHERE time_bank_id = %s ORDER BY id", (time_bank_id,)
        ).fetchall()
    ]
    pot = conn.execute(
        "SELECT id FROM ledger_account WHERE time_bank_id = %s AND kind = 'pot'", (time_bank_id,)
    ).fetchone()[0]
    params = {
        "bank": time_bank_id,
        "n": entries_on_pot,
        "pot": pot,
        "members": [i for i in ids if i != pot],
        "prefix": prefix,
        "days_from": days[0],
        "days_to": days[1],
    }
    for statement in PRELOAD:
        conn.execute(statement, params if "%(" in statement else None)
