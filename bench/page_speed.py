"""Server time of the member dashboard, statement and broker desk with a large history.

    .venv/bin/python bench/page_speed.py [--short] [--members 10000] [--exchanges 60000]
        [--long-history 5000] [--seconds 10] [--keep-database] [--reuse] [--pages desk]
        [--database timebank_pagespeed] [--redis redis://127.0.0.1:6379/2]

1. Creates (and drops) the PostgreSQL database ``--database`` (``timebank_pagespeed``) at
   127.0.0.1:5432 (user ``postgres``), migrates it and fills it with ``bench.monthly_reports.generate`` (a bank of
   10,000 members with a year of exchanges), then adds one long-standing member with 5,000
   exchanges over five years, a broker, 30 applications waiting, 15 exchanges to approve and
   10 waiting ten days for confirmation, and checks the ledger. With ``--reuse``, measures the
   database a run with ``--keep-database`` left instead (migrated first, so an index added
   since is there), without generating anything.
2. Starts gunicorn (``timebank.wsgi``, 2 workers, ``DEBUG=false``, Redis as in production) on
   a free loopback port, with an access log of path, status and request time in microseconds
   (``%(D)s``: the time the worker spent on the request, i.e. server time). Nothing on these
   pages is cached: every visit builds the page from the database.
3. Signs the member and the broker in (Django's test client on the same database; its session
   cookie is sent by the load tool), then drives each page with ``wrk`` (2 threads, 2
   connections, ``--seconds`` each) after a warm-up, and reads the server times of the measured
   requests back from the access log.
4. Prints a table (requests, p50/p95/p99 server ms, the page's target at p95: 50 ms, the
   broker's desk 100 ms) and, per page, the queries it runs and the slowest one's plan. Exit status 1 if a request failed, never on speed.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.monthly_reports import generate  # noqa: E402

DB = "timebank_pagespeed"
SERVER = "postgres://postgres@127.0.0.1:5432"
TARGET_MS = 50.0
# The desk gathers seven follow-up lists and three queues over the whole bank.
DESK_TARGET_MS = 100.0
# Throwaway: the server and this script must share it (sessions are signed with it).
ENV = {
    "DATABASE_URL": f"{SERVER}/{DB}",
    "DJANGO_SETTINGS_MODULE": "timebank.settings",
    "DEBUG": "false",
    "SECRET_KEY": "page-speed-bench-" + "x" * 40,
    "ALLOWED_HOSTS": "127.0.0.1,testserver",
    "SECURE_SSL_REDIRECT": "false",
    "SECURE_HSTS_SECONDS": "0",
    "LOG_LEVEL": "WARNING",
    # As in production (docker-compose.yml): Redis for the rate limits' counters. A database
    # of its own, emptied first: this bench's ids start at 1 on every run.
    "REDIS_URL": "redis://127.0.0.1:6379/2",
}


def use_database(name: str, redis_url: str) -> None:
    """Another database and Redis database than the defaults (several people benchmarking on
    one machine)."""
    global DB
    DB = name
    ENV["DATABASE_URL"] = f"{SERVER}/{DB}"
    ENV["REDIS_URL"] = redis_url


def drop_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def setup_django(var_dir: str, *, reuse: bool = False) -> None:
    """A fresh database (or the kept one, with ``reuse``); static files collected into
    ``var_dir`` as a deployment does."""
    if not reuse:
        drop_database()
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DB}"')
    ENV["VAR_DIR"] = var_dir
    os.environ.update(ENV)
    os.environ.pop("EMAIL_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    # The queue added below sends its notices; keep them out of the bench's output.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception as error:
        raise SystemExit(f"Redis is not answering at {ENV['REDIS_URL']}: {error}") from None


def add_long_history(bank: object, exchanges: int, seed: int = 8) -> tuple[object, object]:
    """A long-standing member who has exchanged ``exchanges`` times over five years with one
    neighbour (both new accounts, so their running balances are theirs alone), a broker, and
    30 applications waiting for the desk. Returns (member's user, broker's user)."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from exchanges.models import Exchange, Kind, State
    from ledger.models import Account, AccountKind, Entry, Journal
    from members.models import Membership, Person, Role, Status, User

    rng = random.Random(seed)
    now = timezone.now()
    since = now - timedelta(days=5 * 365)
    password = make_password(None)
    member_user = User.objects.create(email="longstanding@bench.example.org", password=password)
    broker_user = User.objects.create(email="broker@bench.example.org", password=password)
    member = Person.objects.create(display_name="Long-standing member", user=member_user)
    neighbour = Person.objects.create(display_name="Neighbour")
    broker = Person.objects.create(display_name="Bench broker", user=broker_user)
    # Staff reach the desk only with two-factor set up (members/mfa.py); the session below
    # stands for one that passed it.
    TOTP.activate(broker_user, generate_totp_secret())
    for person, role in ((member, Role.MEMBER), (neighbour, Role.MEMBER), (broker, Role.BROKER)):
        Membership.objects.create(
            person=person,
            time_bank=bank,
            role=role,
            status=Status.APPROVED,
            applied_at=since,
            decided_at=since,
        )
    applicants = Person.objects.bulk_create(
        [Person(display_name=f"Applicant {n}") for n in range(30)]
    )
    Membership.objects.bulk_create(
        [
            Membership(person=p, time_bank=bank, status=Status.APPLIED, applied_at=now)
            for p in applicants
        ]
    )
    accounts = [
        Account.objects.create(time_bank=bank, kind=AccountKind.MEMBER, person=p, opened_at=since)
        for p in (member, neighbour)
    ]
    moments = sorted(
        since + timedelta(seconds=rng.randrange(5 * 365 * 86400)) for _ in range(exchanges)
    )
    journals = Journal.objects.bulk_create(
        [
            Journal(
                time_bank=bank,
                state="posted",
                effective_date=timezone.localtime(at).date(),
                recorded_at=at,
                description="Shopping and a cup of tea",
                idempotency_key=f"long-{n}",
                fingerprint="0" * 64,
            )
            for n, at in enumerate(moments)
        ],
        batch_size=5000,
    )
    balance: dict[int, int] = defaultdict(int)
    entries, rows = [], []
    for n, journal in enumerate(journals):
        # The member gives two times in three, so the balance drifts but stays bounded.
        giver, receiver = accounts if n % 3 else accounts[::-1]
        minutes = 15 * rng.randrange(2, 9)
        for account, amount in ((giver, minutes), (receiver, -minutes)):
            balance[account.pk] += amount
            entries.append(
                Entry(
                    journal=journal,
                    account=account,
                    amount_minutes=amount,
                    balance_after=balance[account.pk],
                    account_version=n + 1,
                    posted_at=journal.recorded_at,
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
                description=journal.description,
                giver=giver,
                receiver=receiver,
                recorded_by=member,
                recorded_at=journal.recorded_at,
            )
        )
    Entry.objects.bulk_create(entries, batch_size=5000)
    Exchange.objects.bulk_create(rows, batch_size=5000)
    for account in accounts:
        account.posted_minutes = balance[account.pk]
        account.version = exchanges
    Account.objects.bulk_update(accounts, ["posted_minutes", "version"])
    return member_user, broker_user


def add_queue(bank: object, *, to_approve: int = 15, unconfirmed: int = 10) -> None:
    """What a broker's desk holds on a busy morning, recorded through the services by the
    members themselves: ``to_approve`` exchanges waiting for a broker, and ``unconfirmed``
    waiting more than a week for the other party. Then the activity dates of every member
    (``Membership.last_help_on`` and the rest) are rebuilt, since the generators above write
    exchanges straight into the tables."""
    from django.db import connection
    from django.utils import timezone

    from exchanges import services
    from exchanges.models import Exchange
    from ledger.models import Account, AccountKind
    from members.models import ApprovalRule, TimeBank

    accounts = list(
        Account.objects.filter(time_bank=bank, kind=AccountKind.MEMBER, person__user__isnull=False)
        .select_related("person", "time_bank")
        .order_by("pk")[: 2 * (to_approve + unconfirmed)]
    )
    pairs = list(zip(accounts[::2], accounts[1::2], strict=True))
    yesterday = timezone.localdate() - timedelta(days=1)
    policies = [
        (to_approve, {"confirmation_required": False, "approval_rule": ApprovalRule.ALL}),
        (unconfirmed, {"confirmation_required": True, "approval_rule": ApprovalRule.NONE}),
    ]
    waited = []
    for count, policy in policies:
        TimeBank.objects.filter(pk=bank.pk).update(**policy)
        for giver, receiver in pairs[:count]:
            giver.time_bank.refresh_from_db()
            exchange = services.record_exchange(
                recorded_by=giver.person,
                giver=giver,
                receiver=receiver,
                minutes=60,
                details=services.Details(effective_date=yesterday, description="Decorating"),
            )
            waited.append(exchange.pk)
        pairs = pairs[count:]
    # The unconfirmed ones were recorded ten days ago (the desk lists those waiting a week).
    Exchange.objects.filter(pk__in=waited[to_approve:]).update(
        recorded_at=timezone.now() - timedelta(days=10)
    )
    # Fresh tables have no statistics: without them the rebuild's per-member probes are
    # planned as scans (minutes instead of seconds).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    services.refresh_activity(time_bank=bank)


def later_page_cursor(user: object) -> int:
    """Where the statement's "later lines" link points half way through the member's twelve
    months (the ``account_version`` of that line), to time a page deep in the history."""
    from django.utils import timezone

    from ledger import services as ledger
    from ledger.models import Account

    account = Account.objects.get(person__user=user)
    today = timezone.localdate()
    lines = ledger.statement(
        account=account, first_day=today.replace(day=1) - timedelta(days=365), last_day=today
    ).lines
    return lines.values_list("account_version", flat=True)[lines.count() // 2]


def session_cookie(user: object) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, access_log: Path, **env: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "timebank.wsgi",
            "--workers=2",
            f"--bind=127.0.0.1:{port}",
            f"--access-logfile={access_log}",
            "--access-logformat=%(U)s %(s)s %(D)s",
            "--error-logfile=-",
        ],
        cwd=ROOT,
        env={**os.environ, **ENV, **env},
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def get(port: int, path: str, cookie: str, times: int) -> None:
    """``times`` keep-alive requests (the warm-up); stops on anything but 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(times):
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
    conn.close()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share / 100) - 1)]


def measure(port: int, path: str, cookie: str, seconds: int, access_log: Path) -> dict:
    get(port, path, cookie, 20)
    time.sleep(0.5)
    start = access_log.stat().st_size
    load_before = os.getloadavg()[0]
    wrk = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c2",
            f"-d{seconds}s",
            "--latency",
            "--timeout=30s",
            "-H",
            f"Cookie: {cookie}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    load_after = os.getloadavg()[0]
    time.sleep(1)
    with access_log.open() as log:
        log.seek(start)
        # The log has the path without its query string (%(U)s).
        lines = [line.split() for line in log if line.startswith(path.split("?")[0] + " ")]
    server_ms = [int(micros) / 1000 for _path, status, micros in lines if status == "200"]
    client = {
        fields[0]: fields[1]
        for fields in (line.split() for line in wrk.stdout.splitlines())
        if len(fields) == 2 and fields[0] in {"50%", "99%"}
    }
    return {
        "requests": len(lines),
        "failed": len(lines) - len(server_ms),
        "p50": percentile(server_ms, 50),
        "p95": percentile(server_ms, 95),
        "p99": percentile(server_ms, 99),
        "wrk": f"client p50 {client.get('50%')}, p99 {client.get('99%')}",
        # The machine is shared: the 1-minute load average before and after the page's run.
        "load": f"{load_before:.1f} → {load_after:.1f}",
    }


def profile(path: str, user: object, *, plan_lines: int) -> str:
    """One request in this process: query count and time, and the first ``plan_lines`` lines
    of the slowest query's plan."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
    # Copied now: each request below clears the connection's query log.
    captured = list(queries.captured_queries)
    sql_ms = sum(float(q["time"]) for q in captured) * 1000
    # The machine is shared: the fastest of 20 more requests is what the page costs when it
    # gets a CPU without waiting; the median shows how far the contention moves it.
    times = []
    for _ in range(20):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    slowest = max(captured, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = "".join(f"\n      {row[0]}" for row in cursor.fetchall()[:plan_lines])
    return (
        f"{path}: {response.status_code}, {len(response.content) // 1024} KiB, "
        f"{elapsed:.1f} ms in process (of 20 more: fastest {min(times):.1f}, median "
        f"{percentile(times, 50):.1f}), {len(captured)} queries ({sql_ms:.1f} ms)\n"
        f"    slowest ({float(slowest['time']) * 1000:.1f} ms): {slowest['sql'][:300]}{plan}"
    )


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with psycopg.connect(f"{SERVER}/postgres") as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    # How fast one core runs Python, to compare runs on different machines: the pages' cost is
    # mostly Django's CPU time, so it scales with this.
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    loop = time.perf_counter() - started
    return (
        f"nproc {os.cpu_count()}, memory {memory:.1f} GiB, PostgreSQL {version}, "
        f"Python {sys.version.split()[0]}, load average {load}, "
        f"a Python loop of 10 million additions {loop:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="small history, 3 s per page")
    parser.add_argument("--members", type=int)
    parser.add_argument("--exchanges", type=int)
    parser.add_argument("--long-history", type=int)
    parser.add_argument("--seconds", type=int)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the kept database; generate nothing"
    )
    parser.add_argument(
        "--pages", default="dashboard,statement,later,desk", help="which pages, comma-separated"
    )
    parser.add_argument("--database", default=DB)
    parser.add_argument("--redis", default=ENV["REDIS_URL"])
    args = parser.parse_args()
    use_database(args.database, args.redis)
    defaults = (1000, 6000, 500, 3) if args.short else (10_000, 60_000, 5000, 10)
    members, exchanges, long_history, seconds = (
        given if given is not None else default
        for given, default in zip(
            (args.members, args.exchanges, args.long_history, args.seconds), defaults, strict=True
        )
    )
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    var_dir = tempfile.TemporaryDirectory()
    setup_django(var_dir.name, reuse=args.reuse)
    from django.db import connection

    from ledger.services import verify_ledger
    from members.models import Membership, TimeBank, User
    from reports.services import month_just_ended

    if args.reuse:
        bank = TimeBank.objects.order_by("pk").first()
        member = User.objects.get(email="longstanding@bench.example.org")
        broker = User.objects.get(email="broker@bench.example.org")
        print(f"reusing {DB}: {Membership.objects.filter(time_bank=bank).count()} memberships")
    else:
        started = time.perf_counter()
        bank = generate(members, exchanges, month_just_ended())
        member, broker = add_long_history(bank, long_history)
        add_queue(bank)
        violations = verify_ledger()
        if violations:
            print("ledger NOT sound:", *violations[:10], sep="\n  ")
            return 1
        connection.close()
        with psycopg.connect(f"{SERVER}/{DB}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        print(
            f"generated {members} members, {exchanges} exchanges, and one member with "
            f"{long_history} over five years in {time.perf_counter() - started:.1f} s; "
            "verify_ledger: ok"
        )
    print(machine())

    slug = bank.slug
    every_page = {
        "dashboard": ("member dashboard", f"/banks/{slug}/", member),
        "statement": ("statement (12 months), first page", f"/banks/{slug}/statement/", member),
        "later": (
            "statement, a later page",
            f"/banks/{slug}/statement/?after={later_page_cursor(member)}",
            member,
        ),
        "desk": ("broker desk", f"/banks/{slug}/desk/", broker),
    }
    unknown = set(args.pages.split(",")) - set(every_page)
    if unknown:
        parser.error(
            f"--pages: no page {', '.join(sorted(unknown))} (one of {', '.join(every_page)})"
        )
    pages = [every_page[key] for key in every_page if key in args.pages.split(",")]
    results = []
    port = free_port()
    access_log = Path(var_dir.name) / "access.log"
    server = start_server(port, access_log)
    try:
        for name, path, user in pages:
            cookie = session_cookie(user)
            results.append((name, path, measure(port, path, cookie, seconds, access_log)))
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"\nwrk, 2 threads, 2 connections, {seconds} s per page; server time from gunicorn %(D)s\n"
    )
    print("| page | requests | p50 ms | p95 ms | p99 ms | target p95 | met? |")
    print("|---|---|---|---|---|---|---|")
    for name, path, r in results:
        target = DESK_TARGET_MS if "/desk/" in path else TARGET_MS
        met = "yes" if r["p95"] < target else "**no**"
        print(
            f"| {name} `{path}` | {r['requests']} | {r['p50']:.1f} | {r['p95']:.1f} | "
            f"{r['p99']:.1f} | < {target:.0f} ms | {met} |"
        )
    print()
    for name, _path, r in results:
        print(f"{name}: wrk {r['wrk']}; failed {r['failed']}; load average {r['load']}")
    print("\nProfile (one request each, in process, same database):")
    # The plan only where the target is missed: that is where it says what limits the page.
    for (_name, path, user), (*_, r) in zip(pages, results, strict=True):
        target = DESK_TARGET_MS if "/desk/" in path else TARGET_MS
        print("  " + profile(path, user, plan_lines=0 if r["p95"] < target else 60))

    connection.close()
    var_dir.cleanup()
    if not (args.keep_database or args.reuse):
        drop_database()
    return 1 if any(r["failed"] or not r["requests"] for _n, _p, r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
