"""A large, realistic dataset for the commissioner report benchmark, built set-based.

    .venv/bin/python bench/dataset.py [--members 10000] [--exchanges 1000000] [--banks 4]
        [--years 3] [--seed 7] [--reuse]

Builds (or, with ``--reuse``, keeps when it already holds a dataset of the same shape) the
PostgreSQL database ``timebank_benchreport`` at 127.0.0.1:5432 (user ``postgres``).

What it holds (defaults):
- 4 time banks of unequal size (members in the ratio 4:3:2:1), each with a broker, a
  community pot and one organisation per 250 members (with a representative).
- 10,000 people with the demographic answers of ``members.Person`` (a third left blank
  each; some "prefer not to say") and an area (mostly postcode districts, some free text,
  some blank). About 87 % approved, 8 % left (``left_at`` after approval), 1 % suspended,
  2 % still applying (no account), 2 % declined. A fifth were approved before the three years
  begin; the rest join over them, more of them recently (the bank grows).
- 1,000,000 exchanges over the three years to yesterday, more of them recently: 94 % service
  (1:1) exchanges, 2 % group exchanges (two providers, three receivers; half of them part
  funded by the pot), 2 % donations (four in five to the pot), 2 % pot grants. Of the service
  exchanges 3 % are given by an organisation, 5 % received by one, 0.5 % between two;
  1 % are later reversed by a broker (a reversal journal up to three weeks later) and 0.5 %
  declined (voided journal). Categories are skewed (a tenth uncategorised), co-production
  kinds 85/8/4/3 %. Who takes part is skewed too: the giver is drawn as rank ``n * u**2.5``
  and the receiver ``n * u**2`` of a shuffled member list, so a few members are very heavy
  users and most are occasional.

Rows are written in the order they would have been recorded (journal ids and the physical
order of journals, exchanges and entries follow the recording time), as a bank that has
been running for three years has them. How: people, memberships, organisations and accounts (~10,000 rows each) with the ORM's
``bulk_create``; journals, entries and exchanges (over 3,000,000 rows) with ``INSERT ...
SELECT`` from ``generate_series`` and ``random()`` (seeded with ``setseed``) in one
transaction, straight into the ledger's real tables. Running balances and account versions
are written exactly as ``ledger_post_journal`` writes them (a window over each account's
posted entries in posting order) and the accounts' ``posted_minutes`` and ``version`` set to
match. The ledger's triggers (append-only guards, the deferred sum-to-zero check) and the
foreign-key triggers are off for the load (``SET LOCAL session_replication_role = replica``,
as ``bench/ours_history.py`` does); so afterwards every foreign key the load wrote is checked
by an anti-join here, and ``verify_ledger()`` (the checks of ``manage.py ledger_verify``:
every journal sums to zero with two legs or more, each bank sums to zero, stored balance =
sum of entries = last running balance, versions contiguous, reversals mirror their
originals, no entry crosses banks) must be clean, or the build fails. Member accounts have
no credit limit (limits are not part of the report). Then ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.runner import PG, setup_django  # noqa: E402

DB = "timebank_benchreport"
# The shape of the dataset is recorded here, so --reuse can tell whether it fits.
META = "bench_dataset"


def shape(members: int, exchanges: int, banks: int, years: int, seed: int) -> dict:
    return {
        "members": members,
        "exchanges": exchanges,
        "banks": banks,
        "years": years,
        "seed": seed,
    }


def existing_shape(db: str) -> dict | None:
    """The shape of the dataset already in ``db``, or None (no database, or no dataset)."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            return None
    with psycopg.connect(f"{PG}/{db}", autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass(%s)", (META,)).fetchone()[0]:
            return None
        row = conn.execute(f"SELECT shape, built_on FROM {META}").fetchone()
    return None if row is None else {**row[0], "built_on": row[1].isoformat()}


def recreate_database(db: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def _people(*, members: int, banks: int, years: int, seed: int, today: date) -> None:
    """Time banks, people, memberships, organisations (with a representative) and accounts."""
    from django.utils import timezone

    from ledger.models import Account, AccountKind
    from members.models import (
        AgeBand,
        Gender,
        Membership,
        Organisation,
        Person,
        Representative,
        Role,
        Status,
        TimeBank,
        YesNo,
    )

    rng = random.Random(seed)
    tz = timezone.get_current_timezone()
    window = years * 365
    first_day = today - timedelta(days=window)

    def moment(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(
            minutes=rng.randrange(9 * 60, 17 * 60)
        )

    time_banks = TimeBank.objects.bulk_create(
        [
            TimeBank(name=f"Bench Time Bank {k + 1}", slug=f"bench-{k + 1}", area=f"Area {k + 1}")
            for k in range(banks)
        ]
    )
    # Sizes in the ratio banks : banks - 1 : ... : 1.
    weights = [banks - k for k in range(banks)]
    bank_of = rng.choices(range(banks), weights=weights, k=members)
    # The first person of each bank is its broker, approved before the window.
    brokers = {k: bank_of.index(k) for k in range(banks) if k in bank_of}

    def answer(choices: list[str]) -> str:
        # A third give no answer; a few prefer not to say.
        return "" if rng.random() < 0.33 else rng.choice(choices)

    def area() -> str:
        u = rng.random()
        if u < 0.15:
            return ""
        if u < 0.2:
            return rng.choice(["Cheltenham", "near the park", "Town centre"])
        if u < 0.22:
            return f"SW{rng.randrange(1, 20)} {rng.randrange(1, 9)}XY"
        return f"gl{rng.choice([50, 51, 52, 53, 54, 55, 56])} {rng.randrange(1, 9)}AB"

    ages = [*AgeBand.values, "45_54", "55_64", "65_74", "35_44"]
    people = Person.objects.bulk_create(
        [
            Person(
                display_name=f"Member {n:05d}",
                area=area(),
                age_band=answer(ages),
                gender=answer([*Gender.values, "woman", "woman", "man"]),
                disability=answer([*YesNo.values, "no", "no"]),
                carer=answer([*YesNo.values, "no", "no"]),
                created_at=moment(first_day),
            )
            for n in range(members)
        ],
        batch_size=5000,
    )
    memberships = []
    for n, person in enumerate(people):
        bank = time_banks[bank_of[n]]
        u = rng.random()
        founder = n in brokers.values() or rng.random() < 0.2
        day = (
            first_day - timedelta(days=rng.randrange(1, 365))
            if founder
            else first_day + timedelta(days=int(window * rng.random() ** 0.5))
        )
        decided = moment(min(day, today))
        status = (
            Status.APPROVED
            if n in brokers.values()
            else Status.APPLIED
            if u < 0.02
            else Status.DECLINED
            if u < 0.04
            else Status.SUSPENDED
            if u < 0.05
            else Status.LEFT
            if u < 0.13
            else Status.APPROVED
        )
        left_at = None
        if status == Status.LEFT:
            left_at = decided + (timezone.now() - decided) * rng.random()
        memberships.append(
            Membership(
                person=person,
                time_bank=bank,
                role=Role.BROKER if n in brokers.values() else Role.MEMBER,
                status=status,
                applied_at=decided - timedelta(days=rng.randrange(1, 30)),
                decided_at=None if status == Status.APPLIED else decided,
                decline_reason="No references" if status == Status.DECLINED else "",
                left_at=left_at,
            )
        )
    Membership.objects.bulk_create(memberships, batch_size=5000)
    with_account = {Status.APPROVED, Status.SUSPENDED, Status.LEFT}
    accounts = [
        Account(
            time_bank_id=m.time_bank_id,
            kind=AccountKind.MEMBER,
            person=m.person,
            credit_limit_minutes=None,
            opened_at=m.decided_at,
        )
        for m in memberships
        if m.status in with_account
    ]
    organisations = []
    for k, bank in enumerate(time_banks):
        size = bank_of.count(k)
        organisations += [
            Organisation(time_bank=bank, name=f"Organisation {k + 1}-{o + 1}", kind="charity")
            for o in range(max(3, size // 250))
        ]
    organisations = Organisation.objects.bulk_create(organisations)
    approved_in = {}
    for m in memberships:
        if m.status == Status.APPROVED:
            approved_in.setdefault(m.time_bank_id, []).append(m.person)
    Representative.objects.bulk_create(
        [
            Representative(organisation=o, person=rng.choice(approved_in[o.time_bank_id]))
            for o in organisations
        ]
    )
    accounts += [
        Account(
            time_bank_id=o.time_bank_id,
            kind=AccountKind.ORGANISATION,
            organisation=o,
            credit_limit_minutes=None,
            opened_at=o.created_at,
        )
        for o in organisations
    ]
    accounts += [
        Account(time_bank=bank, kind=AccountKind.POT, credit_limit_minutes=None)
        for bank in time_banks
    ]
    Account.objects.bulk_create(accounts, batch_size=5000)


# The set-based load. %(name)s parameters; every statement runs in one transaction.
LOAD = [
    "SET LOCAL session_replication_role = replica",
    "SELECT setseed(%(seedf)s)",
    # Member and organisation accounts, ranked in a shuffled order per bank and kind: rank 0
    # is the heaviest user.
    """
    CREATE TEMP TABLE bench_acc ON COMMIT DROP AS
    SELECT a.id, a.time_bank_id AS bank, a.kind,
           (row_number() OVER (PARTITION BY a.time_bank_id, a.kind
                               ORDER BY md5(a.id::text || %(seed)s::text)) - 1)::int AS rank
      FROM ledger_account a WHERE a.kind IN ('member', 'organisation')
    """,
    "CREATE UNIQUE INDEX ON bench_acc (bank, kind, rank)",
    # Per bank: sizes, pot, broker and its share of the exchanges (by members) as [lo, hi).
    """
    CREATE TEMP TABLE bench_bank ON COMMIT DROP AS
    SELECT s.*,
           coalesce(sum(s.members) OVER (ORDER BY s.bank ROWS BETWEEN UNBOUNDED PRECEDING
                                         AND 1 PRECEDING), 0)::float8 / sum(s.members) OVER ()
               AS lo,
           sum(s.members) OVER (ORDER BY s.bank)::float8 / sum(s.members) OVER () AS hi
      FROM (
        SELECT b.bank,
               count(*) FILTER (WHERE b.kind = 'member')::int AS members,
               count(*) FILTER (WHERE b.kind = 'organisation')::int AS orgs,
               (SELECT p.id FROM ledger_account p
                 WHERE p.time_bank_id = b.bank AND p.kind = 'pot') AS pot,
               (SELECT m.person_id FROM members_membership m
                 WHERE m.time_bank_id = b.bank AND m.role = 'broker' LIMIT 1) AS broker
          FROM bench_acc b GROUP BY b.bank
      ) s
    """,
    # One row per exchange: its bank, kind, state, date, hours and parties (as kind + rank).
    """
    CREATE TEMP TABLE bench_gen ON COMMIT DROP AS
    WITH r AS (
        SELECT i, random() AS ub, random() AS uk, random() AS us, random() AS ud,
               random() AS um, random() AS ug, random() AS ur, random() AS uc, random() AS up,
               random() AS uo, random() AS uh, random() AS uv
          FROM generate_series(0, %(n)s - 1) AS i
    ), k AS (
        SELECT r.*, b.bank, b.members, b.orgs, b.pot, b.broker,
               CASE WHEN uk < 0.94 THEN 'service' WHEN uk < 0.96 THEN 'group'
                    WHEN uk < 0.98 THEN 'donation' ELSE 'grant' END AS kind,
               %(first_day)s::date + floor(%(days)s * sqrt(ud))::int AS day
          FROM r JOIN bench_bank b ON r.ub >= b.lo AND r.ub < b.hi
    ), p AS (
        SELECT k.*,
               CASE WHEN kind = 'service' AND uo < 0.03 THEN 'og'
                    WHEN kind = 'service' AND uo < 0.08 THEN 'or'
                    WHEN kind = 'service' AND uo < 0.085 THEN 'oo'
                    ELSE '' END AS variant,
               CASE WHEN kind <> 'service' THEN 'completed'
                    WHEN us < 0.01 THEN 'reversed'
                    WHEN us < 0.015 THEN 'declined' ELSE 'completed' END AS state,
               floor(members * ug ^ 2.5)::int AS gm, floor(members * ur ^ 2)::int AS rm,
               floor(orgs * ug)::int AS go, floor(orgs * ur)::int AS ro
          FROM k
    ), q AS (
        SELECT p.*,
               CASE WHEN kind = 'grant' THEN 'pot'
                    WHEN variant IN ('og', 'oo') THEN 'organisation' ELSE 'member' END AS gkind,
               CASE WHEN variant IN ('og', 'oo') THEN go ELSE gm END AS grank,
               CASE WHEN kind = 'donation' AND uo < 0.8 THEN 'pot'
                    WHEN variant IN ('or', 'oo') THEN 'organisation' ELSE 'member' END AS rkind,
               CASE WHEN variant = 'oo' THEN mod(go + 1 + mod(ro, orgs - 1), orgs)
                    WHEN variant = 'or' THEN ro
                    WHEN rm = gm THEN mod(rm + 1, members) ELSE rm END AS rrank,
               CASE WHEN kind = 'group' THEN CASE WHEN um < 0.5 THEN 90 ELSE 180 END
                    WHEN kind IN ('donation', 'grant') THEN 30 * (1 + floor(um * 8)::int)
                    ELSE 15 * (1 + floor(um * 8)::int) END AS m
          FROM p
    )
    SELECT q.i, q.bank, q.pot, q.broker, q.members, q.orgs,
           q.kind, q.state, q.day, q.variant, q.gkind, q.grank, q.rkind, q.rrank, q.m,
           q.kind = 'group' AND q.uo < 0.5 AS pot_funded,
           q.kind = 'group' AND q.uo >= 0.9 AS org_provides,
           CASE WHEN q.kind = 'group' THEN 2 * q.m ELSE q.m END AS minutes,
           (q.day + time '08:00' + q.uh * interval '12 hours') AT TIME ZONE %(tz)s AS recorded_at,
           CASE WHEN q.kind IN ('donation', 'grant') OR q.uc < 0.1 THEN NULL
                ELSE (%(categories)s::bigint[])[
                    1 + floor(cardinality(%(categories)s::bigint[])
                              * ((q.uc - 0.1) / 0.9) ^ 2)::int] END AS category_id,
           CASE WHEN q.up < 0.85 THEN 'co-delivery' WHEN q.up < 0.93 THEN 'co-design'
                WHEN q.up < 0.97 THEN 'co-commissioning' ELSE 'co-assessment' END
               AS coproduction,
           -- A reversal up to three weeks later (never after yesterday).
           LEAST(q.day + 1 + floor(q.uv * 21)::int, %(today)s::date - 1) AS reversal_day
      FROM q
    """,
    # Givers and receivers as account ids (not for group exchanges: they have no single pair).
    """
    CREATE TEMP TABLE bench_ex ON COMMIT DROP AS
    SELECT g.*,
           -- Journal ids in the order the exchanges were recorded, as the posting code gives.
           %(base)s::bigint - 1 + row_number() OVER (ORDER BY g.recorded_at, g.i) AS jid,
           CASE WHEN g.kind = 'group' THEN NULL WHEN g.gkind = 'pot' THEN g.pot ELSE ga.id END
               AS giver_id,
           CASE WHEN g.kind = 'group' THEN NULL WHEN g.rkind = 'pot' THEN g.pot ELSE ra.id END
               AS receiver_id,
           CASE WHEN g.state = 'reversed'
                THEN %(base)s::bigint + %(n)s
                     + row_number() OVER (PARTITION BY g.state = 'reversed' ORDER BY g.i)
           END AS reversal_jid
      FROM bench_gen g
      LEFT JOIN bench_acc ga ON ga.bank = g.bank AND ga.kind = g.gkind AND ga.rank = g.grank
      LEFT JOIN bench_acc ra ON ra.bank = g.bank AND ra.kind = g.rkind AND ra.rank = g.rrank
    """,
    # Every leg: (journal, account, amount, posted?, posting time). A group exchange: two
    # providers earn m each, three receivers give r each, the pot pays (or keeps) the rest.
    """
    CREATE TEMP TABLE bench_leg ON COMMIT DROP AS
    SELECT e.jid, v.account_id, v.amount, e.state <> 'declined' AS posted,
           e.recorded_at AS posted_at
      FROM bench_ex e
     -- The giver of help earns; a donor or the pot pays (transfer from giver to receiver).
     CROSS JOIN LATERAL (SELECT CASE WHEN e.kind = 'service' THEN e.m ELSE -e.m END AS m) s
     CROSS JOIN LATERAL (VALUES (e.giver_id, s.m), (e.receiver_id, -s.m)) v(account_id, amount)
     WHERE e.kind <> 'group'
    UNION ALL
    SELECT e.jid, coalesce(a.id, e.pot), v.amount, true, e.recorded_at
      FROM bench_ex e
     CROSS JOIN LATERAL (
        SELECT CASE WHEN e.pot_funded THEN e.m / 2 ELSE e.m * 2 / 3 END AS r
     ) g
     CROSS JOIN LATERAL (VALUES
        (CASE WHEN e.org_provides THEN 'organisation' ELSE 'member' END,
         CASE WHEN e.org_provides THEN mod(e.grank, e.orgs) ELSE e.grank END, e.m),
        ('member', mod(e.grank + 1, e.members), e.m),
        ('member', mod(e.grank + 2, e.members), -g.r),
        ('member', mod(e.grank + 3, e.members), -g.r),
        ('member', mod(e.grank + 4, e.members), -g.r),
        ('pot', NULL, 3 * g.r - 2 * e.m)
     ) v(kind, rank, amount)
      LEFT JOIN bench_acc a ON a.bank = e.bank AND a.kind = v.kind AND a.rank = v.rank
     WHERE e.kind = 'group' AND v.amount <> 0
    UNION ALL
    SELECT e.reversal_jid, l.account_id, -l.amount, true,
           e.recorded_at + (e.reversal_day - e.day + 1) * interval '1 day'
      FROM bench_ex e
     CROSS JOIN LATERAL (VALUES (e.giver_id, e.m), (e.receiver_id, -e.m)) l(account_id, amount)
     WHERE e.state = 'reversed'
    """,
    """
    INSERT INTO ledger_journal
        (id, time_bank_id, state, effective_date, recorded_at, recorded_by_id, description,
         category, idempotency_key, fingerprint, decided_at, decided_by_id, decision_reason,
         reverses_id)
    SELECT e.jid, e.bank, CASE WHEN e.state = 'declined' THEN 'voided' ELSE 'posted' END,
           e.day, e.recorded_at, e.broker,
           CASE e.kind WHEN 'donation' THEN 'Donation' WHEN 'grant' THEN 'Grant from the pot'
                ELSE 'Help' END,
           coalesce(c.slug, CASE WHEN e.kind IN ('donation', 'grant') THEN e.kind ELSE '' END),
           'bench-' || e.i, repeat('0', 64),
           CASE WHEN e.state = 'declined' THEN e.recorded_at + interval '1 day' END,
           CASE WHEN e.state = 'declined' THEN e.broker END,
           CASE WHEN e.state = 'declined' THEN 'It did not happen' ELSE '' END, NULL
      FROM bench_ex e LEFT JOIN members_category c ON c.id = e.category_id
    UNION ALL
    SELECT e.reversal_jid, e.bank, 'posted', e.reversal_day,
           e.recorded_at + (e.reversal_day - e.day + 1) * interval '1 day', e.broker,
           'Recorded twice', '', 'reverse-exchange-bench-' || e.i, repeat('0', 64), NULL, NULL,
           '', e.jid
      FROM bench_ex e WHERE e.state = 'reversed'
     ORDER BY 5
    """,
    """
    INSERT INTO exchanges_exchange
        (time_bank_id, kind, journal_id, state, minutes, effective_date, description,
         category_id, coproduction, giver_id, receiver_id, recorded_by_id, recorded_at,
         needs_approval, declined_by_id, declined_at, decline_reason, reversal_id,
         reversed_by_id, reversed_at, reverse_reason, flagged_over_limit, between_banks)
    SELECT e.bank, e.kind, e.jid, e.state, e.minutes, e.day,
           CASE e.kind WHEN 'donation' THEN 'Donation' WHEN 'grant' THEN 'Grant from the pot'
                ELSE 'Help' END,
           e.category_id, e.coproduction, e.giver_id, e.receiver_id, e.broker, e.recorded_at,
           false,
           CASE WHEN e.state = 'declined' THEN e.broker END,
           CASE WHEN e.state = 'declined' THEN e.recorded_at + interval '1 day' END,
           CASE WHEN e.state = 'declined' THEN 'It did not happen' ELSE '' END,
           e.reversal_jid,
           CASE WHEN e.state = 'reversed' THEN e.broker END,
           CASE WHEN e.state = 'reversed'
                THEN e.recorded_at + (e.reversal_day - e.day + 1) * interval '1 day' END,
           CASE WHEN e.state = 'reversed' THEN 'Recorded twice' ELSE '' END,
           false, false
      FROM bench_ex e ORDER BY e.jid
    """,
    # Running balance and version per account, in posting order, as the posting code writes.
    """
    INSERT INTO ledger_entry
        (journal_id, account_id, amount_minutes, balance_after, account_version, posted_at)
    SELECT l.jid, l.account_id, l.amount,
           sum(l.amount) OVER w, row_number() OVER w, l.posted_at
      FROM bench_leg l WHERE l.posted
    WINDOW w AS (PARTITION BY l.account_id ORDER BY l.posted_at, l.jid
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
     ORDER BY l.posted_at, l.jid
    """,
    """
    INSERT INTO ledger_entry (journal_id, account_id, amount_minutes)
    SELECT l.jid, l.account_id, l.amount FROM bench_leg l WHERE NOT l.posted
    """,
    """
    UPDATE ledger_account a SET posted_minutes = s.total, version = s.n
      FROM (SELECT account_id, sum(amount) AS total, count(*) AS n
              FROM bench_leg WHERE posted GROUP BY account_id) s
     WHERE a.id = s.account_id
    """,
    "SELECT setval(pg_get_serial_sequence('ledger_journal', 'id'), max(id)) FROM ledger_journal",
]

# Foreign keys the load wrote with their triggers off: each query counts the dangling ones.
DANGLING = {
    "entry -> journal": "SELECT count(*) FROM ledger_entry e LEFT JOIN ledger_journal j"
    " ON j.id = e.journal_id WHERE j.id IS NULL",
    "entry -> account": "SELECT count(*) FROM ledger_entry e LEFT JOIN ledger_account a"
    " ON a.id = e.account_id WHERE a.id IS NULL",
    "exchange -> journal": "SELECT count(*) FROM exchanges_exchange x LEFT JOIN ledger_journal j"
    " ON j.id = x.journal_id WHERE j.id IS NULL",
    "exchange -> reversal": "SELECT count(*) FROM exchanges_exchange x LEFT JOIN ledger_journal j"
    " ON j.id = x.reversal_id WHERE x.reversal_id IS NOT NULL AND j.id IS NULL",
    "exchange -> giver/receiver": "SELECT count(*) FROM exchanges_exchange x"
    " LEFT JOIN ledger_account g ON g.id = x.giver_id"
    " LEFT JOIN ledger_account r ON r.id = x.receiver_id"
    " WHERE (x.giver_id IS NOT NULL AND g.id IS NULL)"
    " OR (x.receiver_id IS NOT NULL AND r.id IS NULL)",
    "journal -> reverses": "SELECT count(*) FROM ledger_journal r LEFT JOIN ledger_journal o"
    " ON o.id = r.reverses_id WHERE r.reverses_id IS NOT NULL AND o.id IS NULL",
    "journal without exchange": "SELECT count(*) FROM ledger_journal j"
    " WHERE NOT EXISTS (SELECT 1 FROM exchanges_exchange x"
    " WHERE x.journal_id = j.id OR x.reversal_id = j.id)",
}


def _load(*, exchanges: int, years: int, seed: int, today: date) -> None:
    from django.conf import settings
    from django.db import connection, transaction

    from listings.models import Category

    window = years * 365
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM ledger_journal")
        base = cursor.fetchone()[0]
        params = {
            "seed": seed,
            "seedf": (seed % 1000) / 1000,
            "n": exchanges,
            "base": base,
            "first_day": today - timedelta(days=window),
            "days": window,
            "today": today,
            "tz": settings.TIME_ZONE,
            "categories": list(Category.objects.order_by("pk").values_list("pk", flat=True)),
        }
        for statement in LOAD:
            started = time.perf_counter()
            cursor.execute(statement, params if "%(" in statement else None)
            print(
                f"  {time.perf_counter() - started:6.1f} s  {' '.join(statement.split())[:70]}",
                flush=True,
            )


def verify() -> list[str]:
    """Every dangling foreign key, then every ledger invariant violated (empty: sound)."""
    from django.db import connection

    from ledger.services import verify_ledger

    problems = []
    with connection.cursor() as cursor:
        for name, sql in DANGLING.items():
            cursor.execute(sql)
            count = cursor.fetchone()[0]
            if count:
                problems.append(f"{count} dangling: {name}")
    return problems + verify_ledger()


def build(*, members: int, exchanges: int, banks: int, years: int, seed: int, today: date) -> None:
    """Migrate the (empty) database and fill it; SystemExit if the result is not sound."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    _people(members=members, banks=banks, years=years, seed=seed, today=today)
    print(f"people, memberships, organisations, accounts: {time.perf_counter() - started:.1f} s")
    _load(exchanges=exchanges, years=years, seed=seed, today=today)
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    problems = verify()
    if problems:
        raise SystemExit("dataset NOT sound:\n  " + "\n  ".join(problems[:20]))
    print(
        f"foreign keys and verify_ledger(): clean ({time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")


def ensure(
    *,
    members: int,
    exchanges: int,
    banks: int,
    years: int,
    seed: int,
    reuse: bool,
    db: str = DB,
) -> dict:
    """The dataset of this shape in ``db``, built unless ``reuse`` and already there. Sets up
    Django on ``db``. Returns the shape with the day it was built on (``built_on``)."""
    wanted = shape(members, exchanges, banks, years, seed)
    found = existing_shape(db) if reuse else None
    if found is not None and {k: found[k] for k in wanted} == wanted:
        setup_django("timebank.settings", db)
        from django.core.management import call_command

        # Migrations added since the build (columns, tables) apply to the kept data.
        call_command("migrate", verbosity=0)
        print(f"reusing {db}: {json.dumps(found)}")
        return found
    if reuse:
        print(f"no dataset of that shape in {db}: building it")
    recreate_database(db)
    setup_django("timebank.settings", db)
    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate()
    build(**wanted, today=today)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META} (shape jsonb NOT NULL, built_on date NOT NULL)")
        cursor.execute(f"INSERT INTO {META} VALUES (%s, %s)", (json.dumps(wanted), today))
    return {**wanted, "built_on": today.isoformat()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--banks", type=int, default=4)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database if it holds this dataset"
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.banks < 1 or args.members < 40 * args.banks:
        parser.error("give at least one bank and 40 members per bank")
    if args.exchanges < 1 or args.years < 1:
        parser.error("--exchanges and --years must be at least 1")


def ensure_from(args: argparse.Namespace, db: str = DB) -> dict:
    """``ensure`` with the options of ``add_arguments``."""
    return ensure(
        members=args.members,
        exchanges=args.exchanges,
        banks=args.banks,
        years=args.years,
        seed=args.seed,
        reuse=args.reuse,
        db=db,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    check_arguments(parser, args)
    ensure_from(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
