"""Where a posting's time goes: server CPU of ``ledger_post_journal`` and client CPU of the service.

    .venv/bin/python bench/profile_posting.py [--transfers 3000]

Server side: one connection calls the posting function directly (as the service does) on a
fresh copy of the bench's starting database (with its settled history), once as shipped and
once per variant with one database rule removed, and reports wall time and the backend's CPU per transfer (from /proc) plus
``pg_stat_user_functions`` (time inside each PL/pgSQL function, triggers included).
The variants only say what each rule costs; they are not proposals to drop the rules.

Client side: ``ledger.services.transfer`` under cProfile in one process, top functions by own
time, and the number of queries per transfer.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import multiprocessing as mp
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import ledger_bench, runner  # noqa: E402
from bench.workload import account_limits, make_ops  # noqa: E402

PROFILE_DB = "timebank_bench_profile"
POST = (
    "SELECT * FROM ledger_post_journal(%s::bigint, %s::text, %s::text, %s::bigint[], "
    "%s::bigint[], %s::date, %s::bigint, %s::text, %s::text, %s::boolean, %s::bigint)"
)
DROP_FKS = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
           WHERE contype = 'f' AND conrelid::regclass::text IN ('ledger_entry', 'ledger_journal')
  LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); END LOOP;
END $$
"""
DROP_BALANCED = "DROP TRIGGER ledger_entry_journal_balanced ON ledger_entry"
VARIANTS: dict[str, list[str]] = {
    "as shipped (server-side prepared)": [],
    "as shipped, client-side binding (as Django sends it)": [],
    "without the deferred per-entry balance trigger": [DROP_BALANCED],
    "without foreign keys on journal and entry": [DROP_FKS],
    "without both": [DROP_BALANCED, DROP_FKS],
}


def post_one(
    conn: psycopg.Connection,
    rng: random.Random,
    ids: list[int],
    bank: int,
    today: dt.date,
    key: str,
    *,
    prepare: bool,
) -> bool:
    """One posting between two random members; False when a limit refuses it."""
    a, b = rng.sample(ids, 2)
    m = rng.randint(15, 120)
    digest = hashlib.sha256(key.encode()).hexdigest()
    params = (bank, key, digest, [a, b], [-m, m], today, None, key, "", False, None)
    try:
        conn.execute(POST, params, prepare=prepare)
        return True
    except psycopg.Error as error:
        if error.sqlstate in {"TBL03", "TBL04"}:
            return False
        raise


def server_profile(transfers: int) -> None:
    for name, ddl in VARIANTS.items():
        ledger_bench.recreate(PROFILE_DB, ledger_bench.TEMPLATE)
        client_side = "client-side" in name
        with psycopg.connect(
            f"{runner.PG}/{PROFILE_DB}",
            autocommit=True,
            cursor_factory=psycopg.ClientCursor if client_side else psycopg.Cursor,
        ) as conn:
            for statement in ddl:
                conn.execute(statement)
            bank = conn.execute("SELECT id FROM members_timebank").fetchone()[0]
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM ledger_account WHERE kind = 'member' ORDER BY id"
                ).fetchall()
            ]
            conn.execute("SET track_functions = 'all'")
            rng = random.Random(1)
            today = dt.date.today()

            context = (conn, rng, ids, bank, today)
            for i in range(100):
                post_one(*context, f"warm-{i}", prepare=not client_side)
            conn.execute("SELECT pg_stat_reset()")
            pid = conn.info.backend_pid
            cpu0, t0 = runner.proc_cpu_seconds(pid), time.perf_counter()
            posted = sum(
                post_one(*context, f"k-{i}", prepare=not client_side) for i in range(transfers)
            )
            wall = time.perf_counter() - t0
            cpu = runner.proc_cpu_seconds(pid) - cpu0
            functions = conn.execute(
                "SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions "
                "ORDER BY total_time DESC"
            ).fetchall()
        print(
            f"{name}:\n  {transfers / wall:,.0f}/s on one connection, "
            f"{wall / transfers * 1000:.3f} ms wall and {cpu / transfers * 1000:.3f} ms server CPU "
            f"per call ({posted} posted, {transfers - posted} refused)"
        )
        for func, calls, total, own in functions:
            print(
                f"    {func}: {calls / transfers:.1f} calls per transfer, "
                f"{total / transfers:.3f} ms per transfer ({own / transfers:.3f} ms own)"
            )
    ledger_bench.drop(PROFILE_DB)


def client_profile(transfers: int) -> None:
    """Runs in a child process: Django is set up there, on its own copy of the database."""
    runner.setup_django(runner.OURS_SETTINGS, PROFILE_DB)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from members.models import TimeBank

    client = runner.OursClient(TimeBank.objects.get().pk)
    ops = make_ops(
        count=transfers + 100, members=200, hot_pct=10, replay_pct=5, seed=5, prefix="prof"
    )
    for op in ops[:100]:
        client.call(op)
    per_outcome: dict[str, list[int]] = {}
    with CaptureQueriesContext(connection) as queries:
        cpu0 = time.process_time()
        profile = cProfile.Profile()
        profile.enable()
        for op in ops[100:]:
            before = len(queries)
            outcome = client.call(op)[0]
            kind = "replay" if op.replay and outcome == "ok" else outcome
            per_outcome.setdefault(kind, []).append(len(queries) - before)
        profile.disable()
        cpu = time.process_time() - cpu0
    counts = ", ".join(
        f"{kind} {len(n)} calls x {sum(n) / len(n):.2f} queries" for kind, n in per_outcome.items()
    )
    print(f"client: {cpu / transfers * 1000:.3f} ms CPU per transfer under cProfile; {counts}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    print(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=3000)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    helper = ledger_bench.Helper(ctx)
    try:
        ledger_bench.build_templates(args_for_seed(), helper, account_limits(200), ["ours"])
    finally:
        helper.close()
    server_profile(args.transfers)
    ledger_bench.recreate(PROFILE_DB, ledger_bench.TEMPLATE)
    child = ctx.Process(target=client_profile, args=(args.transfers,))
    child.start()
    child.join()
    for db in (PROFILE_DB, ledger_bench.CELL_DB, ledger_bench.TEMPLATE):
        ledger_bench.drop(db)
    return child.exitcode or 0


def args_for_seed() -> argparse.Namespace:
    # The bench's own defaults: 200 members and a settled history of 20,000 pot entries.
    return argparse.Namespace(members=200, settled_history=20_000)


if __name__ == "__main__":
    sys.exit(main())
