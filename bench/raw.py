"""The raw psycopg baseline: our ledger's table shapes, plain multi-statement SQL transactions.

It does the same work as ``ledger.services.transfer`` with full semantics, in the fewest
statements a careful hand-written client needs, each one a round trip:

1. ``INSERT`` the journal, ``ON CONFLICT (time_bank, idempotency key) DO NOTHING``; on a
   conflict, read the stored journal back and return it if the payload matches (a replay).
2. ``UPDATE`` the two accounts in ascending id order (row locks in a fixed order, so no
   deadlocks), moving the balance and the version; the payer's update carries the credit
   limit in its ``WHERE``, so zero rows means "refused" and the transaction rolls back.
3. ``INSERT`` both entries in one statement, each with the running balance and version.
4. ``COMMIT``.

Tables are prefixed ``rawbench_`` and live in the bench database next to the real ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import psycopg

from bench.workload import Op

SCHEMA = """
CREATE TABLE rawbench_account (
    id bigserial PRIMARY KEY,
    time_bank_id bigint NOT NULL,
    kind varchar(20) NOT NULL,
    person_id bigint,
    organisation_id bigint,
    credit_limit_minutes integer CHECK (credit_limit_minutes IS NULL OR credit_limit_minutes <= 0),
    max_balance_minutes integer CHECK (max_balance_minutes IS NULL OR max_balance_minutes >= 0),
    posted_minutes bigint NOT NULL DEFAULT 0,
    pending_out_minutes bigint NOT NULL DEFAULT 0,
    pending_in_minutes bigint NOT NULL DEFAULT 0,
    version bigint NOT NULL DEFAULT 0,
    opened_at timestamptz NOT NULL DEFAULT now(),
    CHECK (pending_out_minutes >= 0 AND pending_in_minutes >= 0 AND version >= 0),
    CHECK (credit_limit_minutes IS NULL
           OR posted_minutes >= pending_out_minutes + credit_limit_minutes),
    CHECK (max_balance_minutes IS NULL
           OR max_balance_minutes >= posted_minutes + pending_in_minutes)
);
CREATE UNIQUE INDEX rawbench_account_one_per_member ON rawbench_account (time_bank_id, person_id)
    WHERE person_id IS NOT NULL;
CREATE UNIQUE INDEX rawbench_account_one_pot ON rawbench_account (time_bank_id) WHERE kind = 'pot';
CREATE TABLE rawbench_journal (
    id bigserial PRIMARY KEY,
    time_bank_id bigint NOT NULL,
    state varchar(10) NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
    effective_date date NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by_id bigint,
    description varchar(500) NOT NULL,
    category varchar(60) NOT NULL DEFAULT '',
    idempotency_key varchar(100) NOT NULL CHECK (idempotency_key <> ''),
    fingerprint varchar(64) NOT NULL,
    reverses_id bigint REFERENCES rawbench_journal (id),
    decided_by_id bigint,
    decided_at timestamptz,
    decision_reason varchar(500) NOT NULL DEFAULT '',
    UNIQUE (time_bank_id, idempotency_key)
);
CREATE UNIQUE INDEX rawbench_journal_reversed_once ON rawbench_journal (reverses_id)
    WHERE reverses_id IS NOT NULL;
CREATE INDEX rawbench_journal_pending ON rawbench_journal (time_bank_id, recorded_at)
    WHERE state = 'pending';
CREATE INDEX rawbench_journal_effective ON rawbench_journal (time_bank_id, effective_date);
CREATE TABLE rawbench_entry (
    id bigserial PRIMARY KEY,
    journal_id bigint NOT NULL REFERENCES rawbench_journal (id),
    account_id bigint NOT NULL REFERENCES rawbench_account (id),
    amount_minutes bigint NOT NULL CHECK (amount_minutes <> 0),
    balance_after bigint,
    account_version bigint,
    posted_at timestamptz,
    UNIQUE (journal_id, account_id),
    UNIQUE (account_id, account_version)
);
CREATE INDEX rawbench_entry_point_in_time ON rawbench_entry (account_id, posted_at);
"""

INSERT_JOURNAL = """
INSERT INTO rawbench_journal
    (time_bank_id, state, effective_date, recorded_at, description, idempotency_key, fingerprint)
VALUES (%s, 'posted', %s, now(), %s, %s, %s)
ON CONFLICT (time_bank_id, idempotency_key) DO NOTHING
RETURNING id
"""
READ_JOURNAL = """
SELECT id, fingerprint FROM rawbench_journal WHERE time_bank_id = %s AND idempotency_key = %s
"""
DEBIT = """
UPDATE rawbench_account SET posted_minutes = posted_minutes - %(m)s, version = version + 1
WHERE id = %(id)s AND (credit_limit_minutes IS NULL
                       OR posted_minutes - pending_out_minutes - %(m)s >= credit_limit_minutes)
RETURNING posted_minutes, version
"""
CREDIT = """
UPDATE rawbench_account SET posted_minutes = posted_minutes + %(m)s, version = version + 1
WHERE id = %(id)s AND (max_balance_minutes IS NULL
                       OR posted_minutes + pending_in_minutes + %(m)s <= max_balance_minutes)
RETURNING posted_minutes, version
"""
INSERT_ENTRIES = """
INSERT INTO rawbench_entry
    (journal_id, account_id, amount_minutes, balance_after, account_version, posted_at)
VALUES (%s, %s, %s, %s, %s, now()), (%s, %s, %s, %s, %s, now())
"""


class Refused(Exception):
    """The payer's credit limit (or the payee's maximum) would be crossed."""


class Conflict(Exception):
    """The idempotency key was used before with a different payload."""


def seed(conn: psycopg.Connection, *, time_bank_id: int, limits: list[int | None]) -> None:
    """Create the tables and one account per limit (the last is the community pot)."""
    conn.execute(SCHEMA)
    pot = len(limits) - 1
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO rawbench_account (time_bank_id, kind, person_id, credit_limit_minutes)
               VALUES (%s, %s, %s, %s)""",
            [
                (time_bank_id, "pot" if i == pot else "member", None if i == pot else i + 1, limit)
                for i, limit in enumerate(limits)
            ],
        )


def fingerprint(payer: int, payee: int, minutes: int, effective: dt.date, description: str) -> str:
    payload = f"{payer}:{-minutes}|{payee}:{minutes}|{effective.isoformat()}|{description}"
    return hashlib.sha256(payload.encode()).hexdigest()


class RawClient:
    """One worker's connection; ``call`` posts one transfer and returns (outcome, journal id)."""

    def __init__(self, dsn: str, time_bank_id: int) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.bank = time_bank_id
        rows = self.conn.execute("SELECT id FROM rawbench_account ORDER BY id").fetchall()
        self.ids = [r[0] for r in rows]
        self.today = dt.date.today()

    def backend_pid(self) -> int:
        return self.conn.info.backend_pid

    def call(self, op: Op) -> tuple[str, int | None]:
        payer, payee = self.ids[op.payer], self.ids[op.payee]
        description = f"Exchange {op.key}"
        digest = fingerprint(payer, payee, op.minutes, self.today, description)
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(INSERT_JOURNAL, (self.bank, self.today, description, op.key, digest))
                row = cur.fetchone()
                if row is None:
                    cur.execute(READ_JOURNAL, (self.bank, op.key))
                    journal_id, stored = cur.fetchone()
                    if stored != digest:
                        raise Conflict(op.key)
                    return "replay", journal_id
                journal_id = row[0]
                moved = {}
                for account in sorted((payer, payee)):
                    cur.execute(
                        DEBIT if account == payer else CREDIT, {"m": op.minutes, "id": account}
                    )
                    moved[account] = cur.fetchone()
                    if moved[account] is None:
                        raise Refused(op.key)
                cur.execute(
                    INSERT_ENTRIES,
                    (
                        journal_id,
                        payer,
                        -op.minutes,
                        *moved[payer],
                        journal_id,
                        payee,
                        op.minutes,
                        *moved[payee],
                    ),
                )
                return "ok", journal_id
        except Refused:
            return "refused", None


# History on the community pot: pairs of journals, the pot paying a member and the member
# paying it back, spread over the past two years, so every balance ends where it started.
PRELOAD = [
    """
    INSERT INTO rawbench_journal
        (time_bank_id, state, effective_date, recorded_at, description, idempotency_key, fingerprint)
    SELECT %(bank)s, 'posted', t::date, t, 'History', %(prefix)s || i, 'history'
    FROM generate_series(0, %(n)s - 1) AS i,
         LATERAL (SELECT now() - interval '1 day' * (%(days_from)s
                  - (%(days_from)s - %(days_to)s) * i::float8 / %(n)s) AS t) ts
    """,
    """
    INSERT INTO rawbench_entry
        (journal_id, account_id, amount_minutes, balance_after, account_version, posted_at)
    SELECT x.id, x.account_id, x.amount, base.posted_minutes + sum(x.amount) OVER w,
           base.version + row_number() OVER w, x.recorded_at
    FROM (
        SELECT j.id, j.recorded_at, s.i, v.account_id, v.amount
        FROM rawbench_journal j
        CROSS JOIN LATERAL (SELECT substr(j.idempotency_key, length(%(prefix)s) + 1)::bigint AS i) s
        CROSS JOIN LATERAL (
            SELECT 15 + (s.i / 2) %% 106 AS minutes,
                   (%(members)s::bigint[])[1 + (s.i / 2) %% cardinality(%(members)s::bigint[])] AS member
        ) p
        CROSS JOIN LATERAL (VALUES
            (%(pot)s::bigint, CASE WHEN s.i %% 2 = 0 THEN -p.minutes ELSE p.minutes END),
            (p.member, CASE WHEN s.i %% 2 = 0 THEN p.minutes ELSE -p.minutes END)
        ) v(account_id, amount)
        WHERE j.idempotency_key LIKE %(prefix)s || '%%'
    ) x
    JOIN rawbench_account base ON base.id = x.account_id
    WINDOW w AS (PARTITION BY x.account_id ORDER BY x.i)
    """,
    """
    UPDATE rawbench_account a SET version = e.n
    FROM (SELECT account_id, count(*) AS n FROM rawbench_entry GROUP BY account_id) e
    WHERE e.account_id = a.id
    """,
]


def preload(
    conn: psycopg.Connection,
    *,
    time_bank_id: int,
    entries_on_pot: int,
    prefix: str = "history-",
    days: tuple[int, int] = (730, 0),
) -> None:
    """Give the pot ``entries_on_pot`` entries of history, set-based (as ``ours_history``)."""
    ids = [r[0] for r in conn.execute("SELECT id FROM rawbench_account ORDER BY id").fetchall()]
    params = {
        "bank": time_bank_id,
        "n": entries_on_pot,
        "pot": ids[-1],
        "members": ids[:-1],
        "prefix": prefix,
        "days_from": days[0],
        "days_to": days[1],
    }
    for statement in PRELOAD:
        conn.execute(statement, params)


CHECKS = {
    "a journal does not sum to zero": """
        SELECT journal_id FROM rawbench_entry GROUP BY journal_id HAVING sum(amount_minutes) <> 0""",
    "a journal has fewer than two entries": """
        SELECT j.id FROM rawbench_journal j LEFT JOIN rawbench_entry e ON e.journal_id = j.id
        GROUP BY j.id HAVING count(e.id) < 2""",
    "the balances do not sum to zero": """
        SELECT sum(posted_minutes) FROM rawbench_account HAVING sum(posted_minutes) <> 0""",
    "a stored balance or version differs from the entries": """
        SELECT a.id FROM rawbench_account a
        LEFT JOIN (SELECT account_id, sum(amount_minutes) s, count(*) n, max(account_version) v
                   FROM rawbench_entry GROUP BY account_id) e ON e.account_id = a.id
        WHERE a.posted_minutes <> coalesce(e.s, 0) OR a.version <> coalesce(e.n, 0)
           OR a.version <> coalesce(e.v, 0)""",
    "a stored balance differs from the last running balance": """
        SELECT a.id FROM rawbench_account a JOIN LATERAL (
            SELECT balance_after FROM rawbench_entry e WHERE e.account_id = a.id
            ORDER BY account_version DESC LIMIT 1) last ON true
        WHERE last.balance_after <> a.posted_minutes""",
    "an account is past its credit limit": """
        SELECT id FROM rawbench_account
        WHERE posted_minutes - pending_out_minutes < credit_limit_minutes""",
    "an idempotency key has more than one journal": """
        SELECT idempotency_key FROM rawbench_journal GROUP BY time_bank_id, idempotency_key
        HAVING count(*) > 1""",
}


def verify(conn: psycopg.Connection) -> list[str]:
    """Every invariant of the baseline, one line per violated invariant."""
    problems = []
    for problem, sql in CHECKS.items():
        rows = conn.execute(sql).fetchall()
        if rows:
            problems.append(f"raw: {problem}: {len(rows)} rows, e.g. {rows[0]}")
    return problems


def journals_by_key(conn: psycopg.Connection, prefix: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT idempotency_key, id FROM rawbench_journal WHERE idempotency_key LIKE %s",
        (prefix + "-%",),
    ).fetchall()
    return dict(rows)
