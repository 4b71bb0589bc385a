"""What runs inside the benchmark's child processes (started with multiprocessing "spawn").

``worker`` is one closed-loop client: it sets up Django itself (or opens a psycopg connection
for the raw baseline), warms up, waits at the barrier with the others, then sends its
operations one at a time and reports per-call latencies, outcomes and CPU seconds (its own,
and its PostgreSQL backend's, read from /proc).

``helper`` is one long-lived Django process for the untimed work that needs Django: seeding
accounts, ``verify_ledger()`` after every cell, and the balance-read probes.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
import traceback
from typing import Any

from bench.workload import Op

PG = "postgres://postgres@127.0.0.1:5432"
CELL_DB = "timebank_bench"
OURS_SETTINGS = "timebank.settings"
HORDAK_SETTINGS = "bench.settings_hordak"
SETTINGS = {"ours": OURS_SETTINGS, "hordak": HORDAK_SETTINGS, "hordak_guarded": HORDAK_SETTINGS}


def setup_django(settings: str, db: str) -> None:
    # Production-like: DEBUG off, so Django does not log every query in memory.
    os.environ.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=f"{PG}/{db}",
        DEBUG="false",
        SECRET_KEY="bench-only-not-a-secret",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a local process (a PostgreSQL backend)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class OursClient:
    """Calls ``ledger.services.transfer`` as a view does: one call, its own transaction."""

    def __init__(self, time_bank_id: int) -> None:
        from django.db import connection

        from ledger import exceptions, services
        from ledger.models import Account

        self.services = services
        self.refusals = (exceptions.InsufficientHours, exceptions.MaximumBalanceReached)
        self.accounts = list(Account.objects.filter(time_bank_id=time_bank_id).order_by("id"))
        self.today = dt.date.today()
        connection.ensure_connection()
        self.connection = connection

    def backend_pid(self) -> int:
        return self.connection.connection.info.backend_pid

    def call(self, op: Op) -> tuple[str, int | None]:
        try:
            journal = self.services.transfer(
                from_account=self.accounts[op.payer],
                to_account=self.accounts[op.payee],
                minutes=op.minutes,
                idempotency_key=op.key,
                effective_date=self.today,
                recorded_by=None,
                description=f"Exchange {op.key}",
            )
        except self.refusals:
            return "refused", None
        return "ok", journal.pk


def make_client(system: str, *, db: str, time_bank_id: int, limits: list[int | None]) -> Any:
    if system == "raw":
        from bench.raw import RawClient

        return RawClient(f"{PG}/{db}", time_bank_id)
    setup_django(SETTINGS[system], db)
    if system == "ours":
        return OursClient(time_bank_id)
    from bench.hordak_systems import GuardedHordakClient, HordakClient

    return (GuardedHordakClient if system == "hordak_guarded" else HordakClient)(limits)


def worker(
    system: str,
    db: str,
    time_bank_id: int,
    limits: list[int | None],
    warmup: list[Op],
    ops: list[Op],
    barrier: Any,
    results: Any,
) -> None:
    report: dict[str, Any] = {"outcomes": [], "latencies": [], "errors": []}
    try:
        client = make_client(system, db=db, time_bank_id=time_bank_id, limits=limits)

        def run(op: Op) -> tuple[str, int | None]:
            try:
                return client.call(op)
            except Exception as exc:  # every unexpected error is a correctness failure
                report["errors"].append(f"{op.key}: {type(exc).__name__}: {exc}")
                return "error", None

        report["warmup"] = [(op.key, *run(op)) for op in warmup]
        pid = client.backend_pid()
        server0, client0 = proc_cpu_seconds(pid), time.process_time()
        barrier.wait()
        started = time.perf_counter()
        for op in ops:
            t = time.perf_counter()
            outcome, journal = run(op)
            report["latencies"].append(time.perf_counter() - t)
            report["outcomes"].append((op.key, outcome, journal))
        report["finished"] = time.perf_counter()
        report["started"] = started
        report["client_cpu"] = time.process_time() - client0
        report["server_cpu"] = proc_cpu_seconds(pid) - server0
    except Exception:
        report["errors"].append(traceback.format_exc())
        try:
            barrier.abort()
        except Exception:
            pass
    results.put(report)


# --- the helper process ----------------------------------------------------------------------


def seed_django(*, members: int, limits: list[int | None], ours: bool, hordak: bool) -> int:
    """The time bank and its members with their ledger accounts (the pot last), and hordak's
    accounts in the same order. Returns the time bank's id."""
    from django.db import transaction
    from django.utils import timezone

    from members.models import Membership, Person, Role, Status, TimeBank

    with transaction.atomic():
        bank = TimeBank.objects.create(name="Bench time bank", slug="bench")
        if ours:
            from ledger import services
            from ledger.models import Account

            for i in range(members):
                person = Person.objects.create(display_name=f"Member {i:04d}")
                Membership.objects.create(
                    person=person,
                    time_bank=bank,
                    role=Role.MEMBER,
                    status=Status.APPROVED,
                    decided_at=timezone.now(),
                )
                account = services.open_account(time_bank=bank, person=person)
                if limits[i] != account.credit_limit_minutes:
                    # A broker's per-account override of the bank's policy.
                    Account.objects.filter(pk=account.pk).update(credit_limit_minutes=limits[i])
            services.community_pot(time_bank=bank)
        if hordak:
            from bench import hordak_systems

            hordak_systems.seed(limits=limits)
    return bank.pk


def verify_ours() -> list[str]:
    from ledger import services

    return [f"ours: {line}" for line in services.verify_ledger()]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def read_probe(*, time_bank_id: int, samples: int, seed: int) -> dict[str, float]:
    """p50/p99 in ms of the pot's current balance and of its balance at a random past moment,
    both through ``ledger.services.balance``."""
    from django.utils import timezone

    from ledger import services
    from ledger.models import Account, AccountKind

    pot = Account.objects.get(time_bank_id=time_bank_id, kind=AccountKind.POT)
    rng = random.Random(seed)
    now = timezone.now()
    result: dict[str, float] = {"pot_entries": pot.version}
    for name, moment in (
        ("current", lambda: None),
        ("at", lambda: now - dt.timedelta(seconds=rng.uniform(0, 730 * 86400))),
    ):
        timings = []
        for _ in range(samples):
            at = moment()
            t = time.perf_counter()
            services.balance(account=pot, at=at)
            timings.append((time.perf_counter() - t) * 1000)
        result[f"{name}_p50"] = statistics.median(timings)
        result[f"{name}_p99"] = percentile(timings, 99)
    return result


TASKS = {"seed_django": seed_django, "verify_ours": verify_ours, "read_probe": read_probe}


def helper(db: str, tasks: Any, answers: Any) -> None:
    """Run tasks until ``None``; drop the connection after each, since the harness drops and
    recreates the database between cells."""
    setup_django(HORDAK_SETTINGS, db)
    from django.db import connections

    while (task := tasks.get()) is not None:
        name, kwargs = task
        try:
            answers.put(("ok", TASKS[name](**kwargs)))
        except Exception:
            answers.put(("error", traceback.format_exc()))
        finally:
            connections.close_all()
