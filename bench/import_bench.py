"""Moving a large time bank in: 10,000 members and 200,000 exchanges imported on PostgreSQL.

Prints the time and peak memory of the dry run and of the import (one transaction, set-based:
a fixed number of statements per batch of rows, never one per row), the time of each stage,
the number of SQL statements, ``ledger_verify`` on the result, and a second import of the same
files (nothing new). Never asserts on speed; exits 1 if the ledger is not sound afterwards or
the counts are wrong.

    .venv/bin/python bench/import_bench.py                       # 10,000 members, 200,000 exchanges
    .venv/bin/python bench/import_bench.py --short               # 1,000 and 10,000: correctness
    .venv/bin/python bench/import_bench.py --database mydb_import_bench

It creates (and drops at the end, unless --keep-database) its own PostgreSQL database at
127.0.0.1:5432 (user postgres, trust auth), default ``timebank_import_bench``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = "postgres://postgres@127.0.0.1:5432"


def generate(
    members: int, exchanges: int, seed: int = 24
) -> tuple[dict[str, bytes], dict[str, int]]:
    """The canonical files of a bank with ``members`` members (half with an email, a few
    organisations) and ``exchanges`` exchanges over three years, with opening balances for a
    tenth of the members and an offer for one in five. Returns the files and the row counts."""
    rng = random.Random(seed)
    start = date.today() - timedelta(days=3 * 365 + 30)
    opening_day = start - timedelta(days=1)

    def write(header: list[str], rows: list[list[object]]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode()

    people = []
    for i in range(members):
        organisation = i % 500 == 499
        people.append(
            [
                f"M{i:06d}",
                f"Organisation {i}" if organisation else f"Member {i}",
                f"member{i}@bench.example.org" if i % 2 == 0 and not organisation else "",
                (start - timedelta(days=rng.randint(1, 900))).isoformat(),
                "active",
                "organisation" if organisation else "person",
                f"GL{50 + i % 7} {i % 9}AB",
            ]
        )
    ids = [row[0] for row in people]
    history = []
    for n in range(exchanges):
        giver, receiver = rng.sample(ids, 2)
        day = start + timedelta(days=rng.randint(0, 3 * 365))
        moment = datetime.combine(day, datetime.min.time()) + timedelta(
            minutes=rng.randint(480, 1200)
        )
        history.append(
            [
                f"X{n:07d}",
                day.isoformat(),
                moment.isoformat(),
                giver,
                receiver,
                rng.choice([30, 45, 60, 60, 90, 120, 180]),
                rng.choice(
                    ["gardening", "lifts-and-transport", "company-and-befriending", "", "handyman"]
                ),
                rng.choice(["Gardening", "A lift", "Shopping", "Company", "Computer help"]),
            ]
        )
    openings = [[i, rng.randint(-300, 300) or 15, opening_day.isoformat()] for i in ids[::10]]
    offers = [
        [f"O{n:06d}", member, rng.choice(["offer", "request"]), f"Help number {n}", "", "other"]
        for n, member in enumerate(ids[::5])
    ]
    files = {
        "members.csv": write(
            [
                "external_id",
                "display_name",
                "email",
                "joined_on",
                "status",
                "account_type",
                "postcode",
            ],
            people,
        ),
        "exchanges.csv": write(
            [
                "external_id",
                "service_date",
                "recorded_at",
                "provider_external_id",
                "recipient_external_id",
                "minutes",
                "category",
                "description",
            ],
            history,
        ),
        "opening_balances.csv": write(
            ["member_external_id", "balance_minutes", "as_of_date"], openings
        ),
        "offers.csv": write(
            ["external_id", "member_external_id", "kind", "title", "description", "category"],
            offers,
        ),
    }
    return files, {
        "members": members,
        "exchanges": exchanges,
        "openings": len(openings),
        "offers": len(offers),
    }


def fresh_database(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Statements:
    """Counts the SQL statements sent (without logging them: a log of 26,000-parameter
    INSERTs would cost more than the import)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(database: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="timebank.settings",
        DATABASE_URL=f"{PG}/{database}",
        DEBUG="false",
        SECRET_KEY="bench-only-not-a-secret",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def phase(name: str, database: str, archive: str) -> None:
    """One measured step, alone in its own process (so its peak RSS is its own): the dry run,
    the import, or the import again. Prints one JSON line."""
    setup(database)
    from django.db import connection

    from imports import services
    from members.models import Person, TimeBank

    bank = TimeBank.objects.get(slug="bench")
    admin = Person.objects.get(display_name="Bench Admin")
    upload = services.read_upload(archive)
    stages: dict[str, float] = {}
    last: list = [time.perf_counter(), ""]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if last[1]:
            stages[last[1]] = stages.get(last[1], 0) + now - last[0]
        last[:] = [now, stage]

    statements = Statements()
    began = time.perf_counter()
    with connection.execute_wrapper(statements):
        if name == "dry":
            plan = services.dry_run(files=upload, time_bank=bank, actor=admin)
            result = None
        else:
            result = services.import_files(
                files=upload, file_name="bench.zip", time_bank=bank, actor=admin, progress=progress
            )
            plan = result.plan
    seconds = time.perf_counter() - began
    if last[1]:
        stages[last[1]] = stages.get(last[1], 0) + time.perf_counter() - last[0]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "statements": statements.count,
                "rss_mb": rss_mb(),
                "problems": [str(p) for p in plan.problems[:10]],
                "warnings": len(plan.warnings),
                "nothing_new": plan.nothing_new,
                "stages": stages,
                "reconciliation": {
                    k: v
                    for k, v in ((result.reconciliation or {}) if result else {}).items()
                    if k in ("bank_sum", "mismatches", "widened_limits", "counts")
                },
            }
        )
    )


def run_phase(name: str, database: str, archive: Path) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--phase",
            name,
            "--database",
            database,
            "--archive",
            str(archive),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"phase {name} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--exchanges", type=int, default=200_000)
    parser.add_argument("--short", action="store_true", help="1,000 members and 10,000 exchanges")
    parser.add_argument("--database", default="timebank_import_bench")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--phase", choices=["dry", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--archive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.database, args.archive)
        return 0
    if args.short:
        args.members, args.exchanges = 1_000, 10_000

    fresh_database(args.database)
    setup(args.database)
    from django.core.management import call_command
    from django.db import connection

    from ledger import services as ledger
    from members.models import Membership, Person, Role, Status, TimeBank

    call_command("migrate", verbosity=0)
    bank = TimeBank.objects.create(name="Bench Time Bank", slug="bench")
    admin = Person.objects.create(display_name="Bench Admin")
    Membership.objects.create(
        person=admin,
        time_bank=bank,
        role=Role.ADMIN,
        status=Status.APPROVED,
        decided_at=bank.created_at,
    )
    files, counts = generate(args.members, args.exchanges)
    size = sum(len(d) for d in files.values())
    print(
        f"files: {counts['members']:,} members, {counts['exchanges']:,} exchanges, "
        f"{counts['openings']:,} opening balances, {counts['offers']:,} offers; "
        f"{size / 1e6:.1f} MB of CSV"
    )
    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        archive = Path(folder) / "bench.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for name, data in files.items():
                out.writestr(name, data)
        del files
        connection.close()

        dry = run_phase("dry", args.database, archive)
        print(
            f"dry run (everything parsed and checked; nothing written): {dry['seconds']:.1f} s, "
            f"{dry['statements']} SQL statements, peak RSS {dry['rss_mb']:.0f} MB; "
            f"{len(dry['problems'])} problems, {dry['warnings']} warnings"
        )
        for problem in dry["problems"]:
            print("  problem:", problem)
        imported = run_phase("import", args.database, archive)
        rows = args.exchanges + args.members
        print(
            f"import (checked again, then written in one transaction): {imported['seconds']:.1f} s, "
            f"{imported['statements']} SQL statements ({imported['statements'] / rows:.4f} per row), "
            f"peak RSS {imported['rss_mb']:.0f} MB"
        )
        print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in imported["stages"].items()))
        reconciliation = imported["reconciliation"]
        print(
            f"  reconciliation: bank sums to {reconciliation.get('bank_sum')} minutes, "
            f"{reconciliation.get('mismatches')} declared balances differ, "
            f"{len(reconciliation.get('widened_limits', []))} limits widened to fit the history"
        )
        print(f"  {args.exchanges / imported['seconds']:,.0f} exchanges a second, all in")

        began = time.perf_counter()
        violations = ledger.verify_ledger(time_bank=bank)
        print(f"ledger_verify: {time.perf_counter() - began:.1f} s, {len(violations)} violations")
        for line in violations[:10]:
            print("  ", line)
        again = run_phase("import", args.database, archive)
        print(
            f"the same files again: {again['seconds']:.1f} s, "
            f"{'nothing new' if again['nothing_new'] else 'SOMETHING NEW (wrong)'}"
        )

    from exchanges.models import Exchange
    from ledger.models import Journal

    ok = (
        not dry["problems"]
        and not violations
        and reconciliation.get("bank_sum") == 0
        and Exchange.objects.filter(time_bank=bank).count() == args.exchanges
        and Journal.objects.filter(time_bank=bank).count() == args.exchanges + counts["openings"]
        and again["nothing_new"]
    )
    connection.close()
    if not args.keep_database:
        drop_database(args.database)
    print("result:", "correct" if ok else "WRONG")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
