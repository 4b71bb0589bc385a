"""Time the monthly reports job for a time bank of 10,000 members with a year of exchanges.

    .venv/bin/python bench/monthly_reports.py [--members 10000] [--exchanges 60000]
        [--batch-size 500] [--keep-database]

Creates (and drops) the PostgreSQL database ``timebank_reports_bench`` at 127.0.0.1:5432
(user ``postgres``). The generator bulk-inserts people, memberships, accounts, journals,
entries and exchanges straight into the tables, with running balances and versions, then
runs ``ledger.services.verify_ledger()`` and stops if the ledger is not sound. The timed part
is ``reports.services.build_monthly_report`` for the month just ended, with statements
"emailed" through Django's locmem backend (rendered, not delivered). Prints the numbers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB = "timebank_reports_bench"
SERVER = "postgres://postgres@127.0.0.1:5432"


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.pop("EMAIL_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timebank.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def generate(members: int, exchanges: int, month: date, seed: int = 5) -> object:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from exchanges.models import Exchange, Kind, State
    from ledger.models import Account, AccountKind, Entry, Journal
    from listings.models import Category, Listing
    from members.models import Membership, Person, Status, TimeBank, User
    from timebank.dates import add_months

    rng = random.Random(seed)
    year_start = add_months(month, -11)
    month_end = add_months(month, 1)
    joined = timezone.make_aware(
        datetime.combine(year_start - timedelta(days=30), datetime.min.time())
    )
    bank = TimeBank.objects.create(name="Bench Time Bank", slug="bench")
    password = make_password(None)
    areas = [f"GL{n}" for n in range(50, 70)]

    # Four in five members have a login (and so an email address); the rest are offline.
    users = User.objects.bulk_create(
        [
            User(email=f"member{n}@bench.example.org", password=password)
            for n in range(members)
            if n % 5
        ],
        batch_size=2000,
    )
    user_iter = iter(users)
    people = Person.objects.bulk_create(
        [
            Person(
                display_name=f"Member {n:05d}",
                area=rng.choice(areas),
                user=next(user_iter) if n % 5 else None,
            )
            for n in range(members)
        ],
        batch_size=2000,
    )
    new_in_month = timezone.make_aware(
        datetime.combine(month + timedelta(days=3), datetime.min.time())
    )
    Membership.objects.bulk_create(
        [
            Membership(
                person=p,
                time_bank=bank,
                status=Status.APPROVED,
                applied_at=joined,
                decided_at=new_in_month if i % 100 == 0 else joined,
            )
            for i, p in enumerate(people)
        ],
        batch_size=2000,
    )
    accounts = Account.objects.bulk_create(
        [
            Account(
                time_bank=bank,
                kind=AccountKind.MEMBER,
                person=p,
                credit_limit_minutes=None,
                opened_at=joined,
            )
            for p in people
        ],
        batch_size=2000,
    )
    # A quarter of the members exchange; some only give, some only receive.
    active = rng.sample(accounts, k=len(accounts) * 3 // 4)
    givers, receivers = active[: len(active) // 2], active[len(active) // 4 :]
    days = (month_end - year_start).days
    legs = []
    journals = []
    for n in range(exchanges):
        giver = rng.choice(givers)
        receiver = rng.choice(receivers)
        while receiver.pk == giver.pk:
            receiver = rng.choice(receivers)
        day = year_start + timedelta(days=rng.randrange(days))
        posted_at = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(
            hours=rng.randrange(8, 20)
        )
        minutes = 15 * rng.randrange(2, 13)
        journals.append(
            Journal(
                time_bank=bank,
                state="posted",
                effective_date=day,
                recorded_at=posted_at,
                description="Help",
                idempotency_key=f"bench-{n}",
                fingerprint="0" * 64,
            )
        )
        legs.append((n, giver, receiver, minutes, posted_at))
    journals = Journal.objects.bulk_create(journals, batch_size=5000)
    # Running balances and versions, in posting order per account.
    legs.sort(key=lambda leg: (leg[4], leg[0]))
    balance: dict[int, int] = defaultdict(int)
    version: dict[int, int] = defaultdict(int)
    entries, rows = [], []
    for n, giver, receiver, minutes, posted_at in legs:
        journal = journals[n]
        for account, amount in ((giver, minutes), (receiver, -minutes)):
            balance[account.pk] += amount
            version[account.pk] += 1
            entries.append(
                Entry(
                    journal=journal,
                    account=account,
                    amount_minutes=amount,
                    balance_after=balance[account.pk],
                    account_version=version[account.pk],
                    posted_at=posted_at,
                )
            )
        rows.append(
            Exchange(
                time_bank=bank,
                kind=Kind.SERVICE,
                journal=journal,
                state=State.COMPLETED,
                minutes=minutes,
                effective_date=journal.effective_date,
                description="Help",
                giver=giver,
                receiver=receiver,
                recorded_by=people[0],
                recorded_at=posted_at,
            )
        )
    Entry.objects.bulk_create(entries, batch_size=5000)
    Exchange.objects.bulk_create(rows, batch_size=5000)
    for account in accounts:
        account.posted_minutes = balance[account.pk]
        account.version = version[account.pk]
    Account.objects.bulk_update(accounts, ["posted_minutes", "version"], batch_size=2000)
    category = Category.objects.order_by("pk").first() or Category.objects.create(
        name="Anything", slug="anything"
    )
    Listing.objects.bulk_create(
        [
            Listing(
                time_bank=bank,
                kind="offer" if n % 2 else "request",
                person=people[n * 7 % members],
                category=category,
                title=f"Listing {n}",
                area=rng.choice(areas),
                expires_on=timezone.localdate() + timedelta(days=60),
                created_by=people[n * 7 % members],
            )
            for n in range(1000)
        ],
        batch_size=1000,
    )
    return bank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--exchanges", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    recreate_database()
    setup_django()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from ledger.services import verify_ledger
    from reports import services
    from reports.models import MonthlyReport, Statement

    setup_test_environment()  # mail.outbox for the locmem backend
    call_command("migrate", verbosity=0)
    month = services.month_just_ended()
    started = time.perf_counter()
    bank = generate(args.members, args.exchanges, month)
    generated = time.perf_counter() - started
    violations = verify_ledger()
    if violations:
        print("ledger NOT sound:", *violations[:10], sep="\n  ")
        return 1
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"generated {args.members} members, {args.exchanges} exchanges in {generated:.1f} s;"
        " verify_ledger: ok"
    )

    mail.outbox = []
    # Mail delivery is timed apart: the job hands each batch's statement ids to _send_now
    # after commit; here they are collected, and sent (to locmem) after the clock stops.
    to_send: list[int] = []
    send_now = services._send_now
    services._send_now = to_send.extend
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        outcome = services.build_monthly_report(
            time_bank=bank, month=month, batch_size=args.batch_size, deliver="now"
        )
        elapsed = time.perf_counter() - started
    services._send_now = send_now
    started = time.perf_counter()
    send_now(to_send)
    mailing = time.perf_counter() - started
    report = MonthlyReport.objects.get(time_bank=bank, month=month)
    figures = report.figures
    statements = Statement.objects.filter(report=report).count()
    batches = -(-args.members // args.batch_size)
    print(f"month {month:%Y-%m}, batch size {args.batch_size} ({batches} batches): {outcome}")
    print(
        f"monthly job (excluding mail): {elapsed:.1f} s, {len(queries)} queries, "
        f"{statements} statements"
    )
    print(f"then {len(mail.outbox)} statement emails rendered and sent to locmem: {mailing:.1f} s")
    print(
        "figures: members {members}, active {active}, givers only {givers_only}, receivers only "
        "{receivers_only}, both {both}, inactive {inactive}, reciprocity {reciprocity}, new members "
        "{new_members}, exchanges {exchanges}, hours {hours:.0f}".format(
            hours=figures["hours_minutes"] / 60, **figures
        )
    )
    started = time.perf_counter()
    again = services.build_monthly_report(time_bank=bank, month=month, deliver="now")
    print(
        f"second run: {again} in {time.perf_counter() - started:.1f} s, "
        f"{len(mail.outbox)} emails in total"
    )
    if not args.keep_database:
        connection.close()
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
