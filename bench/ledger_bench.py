"""Ledger benchmark: our ledger against django-hordak and a raw SQL baseline, same workload.

    .venv/bin/python bench/ledger_bench.py                    # the full run (about 15 minutes)
    .venv/bin/python bench/ledger_bench.py --short            # CI: correctness gates, < 1 minute

Systems, all on the same local PostgreSQL (one fresh copy of the bench database per cell):

- ``ours``: ``ledger.services.transfer(...)`` called as a view calls it (Django ORM connection,
  one call per transfer, its own transaction), with locks, credit limits, idempotency and
  running balances;
- ``hordak``: django-hordak 2.0.0 ``Account.transfer_to`` (balanced legs, nothing else);
- ``hordak_guarded``: hordak with ``SELECT ... FOR UPDATE`` on both accounts in id order and a
  limit check on the sum of the payer's legs, in one transaction;
- ``raw``: psycopg and plain multi-statement SQL on tables shaped like ours (``bench/raw.py``).

Each worker is a process with its own connection (closed loop: the next call goes when the
previous returns). After every cell the invariants are checked, untimed; any violation, any
duplicate journal for a key, or any unexpected error makes the exit status 1. Speed never
does. The history phase repeats the run with 1,000,000 entries of history on the community
pot and half of the transfers touching it, and probes balance reads.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import hordak_systems, ours_history, raw, runner  # noqa: E402
from bench.runner import CELL_DB, PG, percentile  # noqa: E402
from bench.workload import Op, account_limits, make_ops, split  # noqa: E402

TEMPLATE = "timebank_bench_template"
TEMPLATE_HISTORY = "timebank_bench_template_history"
ALL_SYSTEMS = ["ours", "hordak", "hordak_guarded", "raw"]
WARMUP_PER_WORKER = 20


def admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG}/postgres", autocommit=True)


def recreate(db: str, template: str | None = None) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if template:
            # FILE_COPY checkpoints first, so every cell starts from clean shared buffers.
            conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        else:
            conn.execute(f'CREATE DATABASE "{db}"')


def drop(db: str) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


class Helper:
    """The long-lived Django process (``runner.helper``)."""

    def __init__(self, ctx: Any) -> None:
        self.tasks, self.answers = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(target=runner.helper, args=(CELL_DB, self.tasks, self.answers))
        self.process.start()

    def __call__(self, name: str, **kwargs: Any) -> Any:
        self.tasks.put((name, kwargs))
        status, value = self.answers.get()
        if status != "ok":
            raise RuntimeError(f"helper task {name} failed:\n{value}")
        return value

    def close(self) -> None:
        self.tasks.put(None)
        self.process.join(timeout=30)


def build_templates(
    args: argparse.Namespace, helper: Helper, limits: list[int | None], systems: list[str]
) -> int:
    """The bench database as migrated and seeded, kept as a template cloned for every cell."""
    t = time.perf_counter()
    recreate(CELL_DB)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": runner.HORDAK_SETTINGS,
        "DATABASE_URL": f"{PG}/{CELL_DB}",
        "PYTHONPATH": str(ROOT),
    }
    # --skip-checks: the checks import every URLconf, which the ledger does not need.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--skip-checks", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    bank = helper(
        "seed_django",
        members=args.members,
        limits=limits,
        ours="ours" in systems,
        hordak=any(s.startswith("hordak") for s in systems),
    )
    with psycopg.connect(f"{PG}/{CELL_DB}", autocommit=True) as conn:
        raw.seed(conn, time_bank_id=bank, limits=limits)
        # A settled history, so the tables, their statistics and the plans every connection
        # caches are those of a time bank in use. On empty tables PostgreSQL plans the
        # per-row checks (foreign keys, hordak's and our balance triggers) as sequential
        # scans and keeps those plans for the life of the connection: every posting then
        # reads the whole table, and a cell slows down as it runs (see README).
        if args.settled_history:
            window = {"prefix": "settled-", "days": (760, 731)}
            n = args.settled_history
            if "ours" in systems:
                ours_history.preload(conn, time_bank_id=bank, entries_on_pot=n, **window)
            if "raw" in systems:
                raw.preload(conn, time_bank_id=bank, entries_on_pot=n, **window)
            if any(s.startswith("hordak") for s in systems):
                hordak_systems.preload(conn, entries_on_pot=n, **window)
        conn.execute("VACUUM ANALYZE")
    if "ours" in systems and (problems := helper("verify_ours")):
        raise SystemExit(
            "the settled history breaks the ledger's invariants:\n" + "\n".join(problems)
        )
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE "{CELL_DB}"')
    print(f"bench database migrated and seeded in {time.perf_counter() - t:.1f}s", flush=True)
    return bank


def build_history_template(
    args: argparse.Namespace, helper: Helper, bank: int, systems: list[str]
) -> dict[str, float]:
    """The template plus ``--preload-history`` entries on the pot, for each system."""
    timings: dict[str, float] = {}
    recreate(CELL_DB, TEMPLATE)
    with psycopg.connect(f"{PG}/{CELL_DB}", autocommit=True) as conn:
        for system in systems:
            t = time.perf_counter()
            if system == "ours":
                ours_history.preload(
                    conn, time_bank_id=bank, entries_on_pot=args.preload_history, days=(730, 1)
                )
            elif system == "raw":
                raw.preload(
                    conn, time_bank_id=bank, entries_on_pot=args.preload_history, days=(730, 1)
                )
            elif system.startswith("hordak") and "hordak" not in timings:
                hordak_systems.preload(conn, entries_on_pot=args.preload_history, days=(730, 1))
            timings[system] = time.perf_counter() - t
            print(
                f"  preloaded {args.preload_history:,} pot entries for {system} "
                f"in {timings[system]:.0f}s",
                flush=True,
            )
        conn.execute("VACUUM ANALYZE")
    t = time.perf_counter()
    problems = helper("verify_ours") if "ours" in systems else []
    timings["verify_ours"] = time.perf_counter() - t
    if problems:
        raise SystemExit(
            "the preloaded history breaks the ledger's invariants:\n" + "\n".join(problems)
        )
    print(
        f"  verify_ledger() on the preloaded history: clean in {timings['verify_ours']:.1f}s",
        flush=True,
    )
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_HISTORY}"')
        conn.execute(
            f'CREATE DATABASE "{TEMPLATE_HISTORY}" TEMPLATE "{CELL_DB}" STRATEGY FILE_COPY'
        )
    return timings


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def check_keys(
    system: str, outcomes: list[tuple[str, str, int | None]], stored: dict[str, int], prefix: str
) -> list[str]:
    """Every key that succeeded maps to exactly one stored journal, the same for every caller,
    and no journal exists for a key that never succeeded."""
    problems = []
    seen: dict[str, set[int]] = {}
    for key, outcome, journal in outcomes:
        if outcome == "ok" or outcome == "replay":
            seen.setdefault(key, set()).add(journal)
    for key, journals in seen.items():
        if len(journals) != 1:
            problems.append(f"{system}: key {key} returned {len(journals)} different journals")
        elif stored.get(key) not in journals:
            problems.append(
                f"{system}: key {key} returned journal {journals} but stored {stored.get(key)}"
            )
    extra = set(stored) - set(seen)
    if extra:
        problems.append(f"{system}: {len(extra)} journals stored for keys no call succeeded with")
    return problems


def ours_journals_by_key(conn: psycopg.Connection, prefix: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT idempotency_key, id FROM ledger_journal WHERE idempotency_key LIKE %s",
        (prefix + "-%",),
    ).fetchall()
    return dict(rows)


def run_cell(
    ctx: Any,
    helper: Helper,
    *,
    system: str,
    workers: int,
    ops: list[Op],
    warmup: list[Op],
    bank: int,
    limits: list[int | None],
    template: str,
    label: str,
    prefix: str,
) -> dict[str, Any]:
    recreate(CELL_DB, template)
    if system.startswith("hordak"):
        # hordak has no idempotency key: a replay would be a second, different transaction.
        ops = [op for op in ops if not op.replay]
        warmup = [op for op in warmup if not op.replay]
    barrier = ctx.Barrier(workers + 1)
    results = ctx.Queue()
    processes = [
        ctx.Process(
            target=runner.worker,
            args=(system, CELL_DB, bank, limits, share_w, share, barrier, results),
        )
        for share_w, share in zip(split(warmup, workers), split(ops, workers), strict=True)
    ]
    for p in processes:
        p.start()
    try:
        barrier.wait(timeout=180)
    except Exception:
        pass
    busy0, t0 = busy_cpu_seconds(), time.perf_counter()
    reports = [results.get(timeout=3600) for _ in processes]
    busy, elapsed = busy_cpu_seconds() - busy0, time.perf_counter() - t0
    for p in processes:
        p.join()

    outcomes = [o for r in reports for o in r["outcomes"]]
    every = outcomes + [o for r in reports for o in r.get("warmup", [])]
    latencies = [x for r in reports for x in r["latencies"]]
    errors = [e for r in reports for e in r["errors"]]
    problems = [f"{system}: {len(errors)} calls raised, e.g. {errors[0]}"] if errors else []
    if "started" in reports[0] and all("started" in r for r in reports):
        wall = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    else:
        wall = float("nan")

    # Invariants, untimed.
    with psycopg.connect(f"{PG}/{CELL_DB}", autocommit=True) as conn:
        if system == "ours":
            problems += helper("verify_ours")
            problems += check_keys(system, every, ours_journals_by_key(conn, prefix), prefix)
        elif system == "raw":
            problems += raw.verify(conn)
            problems += check_keys(system, every, raw.journals_by_key(conn, prefix), prefix)
        else:
            guarded = system == "hordak_guarded"
            problems += hordak_systems.verify(conn, limits=limits if guarded else None)
            posted = sum(1 for _, outcome, _ in every if outcome == "ok")
            stored = hordak_systems.exchange_count(conn)
            if stored != posted:
                problems.append(
                    f"{system}: {stored} transactions stored for {posted} successful calls"
                )

    count = len(outcomes)
    cell = {
        "system": system,
        "workers": workers,
        "label": label,
        "calls": count,
        "ok": sum(1 for _, o, _ in outcomes if o == "ok"),
        "refused": sum(1 for _, o, _ in outcomes if o == "refused"),
        "replays": sum(1 for op in ops if op.replay),
        "errors": len(errors),
        "seconds": wall,
        "tps": count / wall if wall == wall and wall > 0 else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else float("nan"),
        "client_cpu_ms": sum(r.get("client_cpu", 0) for r in reports) / max(count, 1) * 1000,
        "server_cpu_ms": sum(r.get("server_cpu", 0) for r in reports) / max(count, 1) * 1000,
        "problems": problems,
    }
    # CPU used by anything but this cell's clients and backends (other jobs on the machine),
    # as a share of all cores: above a few percent the cell's numbers are disturbed.
    ours_cpu = sum(r.get("client_cpu", 0) + r.get("server_cpu", 0) for r in reports)
    cell["foreign_cpu_pct"] = max(0.0, busy - ours_cpu) / (elapsed * (os.cpu_count() or 1)) * 100
    status = "ok" if not problems else "INVARIANT FAILURE"
    print(
        f"  {label:<8} {system:<15} {workers} workers: {cell['tps']:7.0f}/s  "
        f"p50 {cell['p50_ms']:5.1f} ms  p99 {cell['p99_ms']:6.1f} ms  "
        f"refused {cell['refused']:4d}  replays {cell['replays']:4d}  "
        f"cpu/transfer client {cell['client_cpu_ms']:.2f} ms server {cell['server_cpu_ms']:.2f} ms  "
        f"other load {cell['foreign_cpu_pct']:.0f}%  [{status}]",
        flush=True,
    )
    for problem in problems[:20]:
        print(f"    {problem}", flush=True)
    return cell


def summarise(cells: list[dict[str, Any]], key: tuple[str, int, str]) -> dict[str, float]:
    mine = [c for c in cells if (c["system"], c["workers"], c["label"]) == key]
    cpu = statistics.median(c["client_cpu_ms"] + c["server_cpu_ms"] for c in mine)
    return {
        "tps": statistics.median(c["tps"] for c in mine),
        "tps_min": min(c["tps"] for c in mine),
        "tps_max": max(c["tps"] for c in mine),
        "p50_ms": statistics.median(c["p50_ms"] for c in mine),
        "p99_ms": statistics.median(c["p99_ms"] for c in mine),
        "refused": statistics.median(c["refused"] for c in mine),
        "client_cpu_ms": statistics.median(c["client_cpu_ms"] for c in mine),
        "server_cpu_ms": statistics.median(c["server_cpu_ms"] for c in mine),
        # What the machine's cores could post if this system had them to itself: the cells
        # are CPU-bound, so cores / CPU per transfer. Less sensitive to other load than tps.
        "capacity": (os.cpu_count() or 1) * 1000 / cpu if cpu else 0.0,
        "other_load": statistics.median(c.get("foreign_cpu_pct", 0.0) for c in mine),
        "reps": len(mine),
    }


def print_tables(
    cells: list[dict[str, Any]], systems: list[str], workers: list[int], reads: dict[str, Any]
) -> str:
    out = [
        "| system | workers | transfers/s, median (min-max) | p50 ms | p99 ms | refused "
        "| CPU ms/transfer, client + server | CPU capacity, transfers/s | other load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    fresh = {}
    for system in systems:
        for w in workers:
            s = fresh[(system, w)] = summarise(cells, (system, w, "fresh"))
            spread = f" ({s['tps_min']:,.0f}-{s['tps_max']:,.0f})" if s["reps"] > 1 else ""
            out.append(
                f"| {system} | {w} | {s['tps']:,.0f}{spread} | {s['p50_ms']:.2f} "
                f"| {s['p99_ms']:.2f} | {s['refused']:.0f} "
                f"| {s['client_cpu_ms']:.2f} + {s['server_cpu_ms']:.2f} | {s['capacity']:,.0f} "
                f"| {s['other_load']:.0f}% |"
            )
    if "ours" in systems:

        def ratio(other: str, w: int, field: str) -> str:
            if (other, w) not in fresh or not fresh[(other, w)][field]:
                return "-"
            return f"{fresh[('ours', w)][field] / fresh[(other, w)][field]:.2f}x"

        out += [
            "",
            "| workers | ours / hordak plain | ours / hordak guarded | ours / raw "
            "| by CPU capacity: ours / hordak plain | ours / raw |",
            "|---|---|---|---|---|---|",
        ]
        for w in workers:
            out.append(
                f"| {w} | {ratio('hordak', w, 'tps')} | {ratio('hordak_guarded', w, 'tps')} "
                f"| {ratio('raw', w, 'tps')} | {ratio('hordak', w, 'capacity')} "
                f"| {ratio('raw', w, 'capacity')} |"
            )
    hist = [c for c in cells if c["label"] == "history"]
    if hist:
        out += [
            "",
            "| system | workers | hot, settled: transfers/s (p99 ms) | hot, 1M history: transfers/s "
            "(p99 ms) | history / settled | CPU ms/transfer settled -> history | other load |",
            "|---|---|---|---|---|---|---|",
        ]
        for system in dict.fromkeys(c["system"] for c in hist):
            w = next(c["workers"] for c in hist if c["system"] == system)
            f = summarise(cells, (system, w, "hot"))
            h = summarise(cells, (system, w, "history"))
            out.append(
                f"| {system} | {w} | {f['tps']:,.0f} ({f['p99_ms']:.1f}) "
                f"| {h['tps']:,.0f} ({h['p99_ms']:.1f}) | {h['tps'] / f['tps']:.2f} "
                f"| {f['client_cpu_ms'] + f['server_cpu_ms']:.2f} -> "
                f"{h['client_cpu_ms'] + h['server_cpu_ms']:.2f} "
                f"| {f['other_load']:.0f}% / {h['other_load']:.0f}% |"
            )
    if reads:
        out += [
            "",
            "| balance read (ours, community pot) | entries on the pot | p50 ms | p99 ms |",
            "|---|---|---|---|",
        ]
        for label, r in reads.items():
            for kind, prefix in (("current balance", "current"), ("point-in-time balance", "at")):
                out.append(
                    f"| {kind}, {label} | {r['pot_entries']:,.0f} | {r[prefix + '_p50']:.3f} "
                    f"| {r[prefix + '_p99']:.3f} |"
                )
    text = "\n".join(out)
    print("\n" + text, flush=True)
    return text


def environment() -> dict[str, str]:
    import django

    with admin() as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        settings = conn.execute(
            "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) "
            "FROM pg_settings WHERE name IN ('shared_buffers','synchronous_commit','fsync',"
            "'max_connections','work_mem','wal_level')"
        ).fetchone()[0]
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    from importlib.metadata import version

    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{int(meminfo) / 1024 / 1024:.1f} GiB",
        "postgresql": f"{pg} ({settings})",
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": version("psycopg"),
        "django-hordak": version("django-hordak"),
        "django-mptt": version("django-mptt"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--short",
        action="store_true",
        help="CI: workers 1,2, 400 calls per cell, one repetition, no history",
    )
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    parser.add_argument("--workers", help="worker processes per cell (default 1,2,4,8)")
    parser.add_argument("--transfers", type=int, help="calls per cell (default 6000)")
    parser.add_argument("--reps", type=int, help="repetitions, interleaved (default 3)")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--replay-pct", type=int, default=5)
    parser.add_argument(
        "--preload-history",
        type=int,
        help="entries of history on the community pot (default 1,000,000; 0: skip "
        "the history phase)",
    )
    parser.add_argument(
        "--settled-history",
        type=int,
        default=20_000,
        help="entries on the pot in every cell's starting database (default 20,000)",
    )
    parser.add_argument("--history-workers", type=int, default=4)
    parser.add_argument("--history-systems", default="ours,raw,hordak")
    parser.add_argument("--read-samples", type=int, help="balance reads per probe (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write every cell and the environment here")
    parser.add_argument("--markdown", help="write the result tables here")
    parser.add_argument(
        "--keep-databases",
        action="store_true",
        help="leave the bench databases for inspection (dropped by the next run)",
    )
    args = parser.parse_args()
    # --short changes the defaults only; an option given explicitly wins.
    defaults = (
        {"workers": "1,2", "transfers": 400, "reps": 1, "preload_history": 0, "read_samples": 100}
        if args.short
        else {
            "workers": "1,2,4,8",
            "transfers": 6000,
            "reps": 3,
            "preload_history": 1_000_000,
            "read_samples": 1000,
        }
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    systems = [s for s in args.systems.split(",") if s]
    workers = [int(w) for w in args.workers.split(",")]
    limits = account_limits(args.members)

    started = time.perf_counter()
    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items()), flush=True)
    ctx = mp.get_context("spawn")
    helper = Helper(ctx)
    cells: list[dict[str, Any]] = []
    reads: dict[str, Any] = {}
    command = None
    try:
        bank = build_templates(args, helper, limits, systems)
        cell_args = dict(bank=bank, limits=limits)
        # Same operations for every system; fresh keys per repetition.
        for rep in range(args.reps):
            for w in workers:
                prefix = f"r{rep}w{w}"
                ops = make_ops(
                    count=args.transfers,
                    members=args.members,
                    hot_pct=10,
                    replay_pct=args.replay_pct,
                    seed=args.seed + rep,
                    prefix=prefix,
                )
                warmup = make_ops(
                    count=WARMUP_PER_WORKER * w,
                    members=args.members,
                    hot_pct=10,
                    replay_pct=0,
                    seed=-1 - rep,
                    prefix=prefix + "-warm",
                )
                # Rotate the order per repetition so drift does not favour one system.
                order = systems[rep % len(systems) :] + systems[: rep % len(systems)]
                for system in order:
                    cells.append(
                        run_cell(
                            ctx,
                            helper,
                            system=system,
                            workers=w,
                            ops=ops,
                            warmup=warmup,
                            template=TEMPLATE,
                            label="fresh",
                            prefix=prefix,
                            **cell_args,
                        )
                    )
        if args.preload_history:
            hist_systems = [s for s in args.history_systems.split(",") if s in systems]
            print(
                f"history phase: {args.preload_history:,} entries on the pot, 50% of transfers "
                f"touching it, {args.history_workers} workers",
                flush=True,
            )
            build_history_template(args, helper, bank, hist_systems)
            w = args.history_workers
            for rep in range(args.reps):
                prefix = f"h{rep}"
                ops = make_ops(
                    count=args.transfers,
                    members=args.members,
                    hot_pct=50,
                    replay_pct=args.replay_pct,
                    seed=100 + rep,
                    prefix=prefix,
                )
                warmup = make_ops(
                    count=WARMUP_PER_WORKER * w,
                    members=args.members,
                    hot_pct=50,
                    replay_pct=0,
                    seed=-100 - rep,
                    prefix=prefix + "-warm",
                )
                for system in hist_systems:
                    for label, template in (("hot", TEMPLATE), ("history", TEMPLATE_HISTORY)):
                        cells.append(
                            run_cell(
                                ctx,
                                helper,
                                system=system,
                                workers=w,
                                ops=ops,
                                warmup=warmup,
                                template=template,
                                label=label,
                                prefix=prefix,
                                **cell_args,
                            )
                        )
                        if system == "ours" and rep == args.reps - 1:
                            name = "with history" if label == "history" else "fresh"
                            reads[name] = helper(
                                "read_probe", time_bank_id=bank, samples=args.read_samples, seed=7
                            )
        elif "ours" in systems:
            recreate(CELL_DB, TEMPLATE)
            reads["fresh"] = helper(
                "read_probe", time_bank_id=bank, samples=args.read_samples, seed=7
            )
        # The management command too, once, on the last cell's database.
        command = (
            subprocess.run(
                [sys.executable, "manage.py", "ledger_verify"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={
                    **os.environ,
                    "DATABASE_URL": f"{PG}/{CELL_DB}",
                    "PYTHONPATH": str(ROOT),
                    "DJANGO_SETTINGS_MODULE": runner.OURS_SETTINGS,
                },
            )
            if "ours" in systems
            else None
        )
    finally:
        helper.close()

    failures = [p for c in cells for p in c["problems"]]
    if command is not None and command.returncode != 0:
        failures.append(
            f"manage.py ledger_verify exited {command.returncode}: "
            f"{(command.stdout + command.stderr).strip()[:2000]}"
        )
    tables = print_tables(cells, systems, workers, reads)
    elapsed = time.perf_counter() - started
    print(
        f"\n{len(cells)} cells in {elapsed:.0f}s; "
        f"{'correctness: OK' if not failures else f'CORRECTNESS FAILURES: {len(failures)}'}"
    )
    for failure in failures[:50]:
        print(f"  {failure}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "environment": env,
                    "args": vars(args),
                    "cells": cells,
                    "reads": reads,
                    "elapsed_seconds": elapsed,
                },
                indent=2,
            )
        )
    if args.markdown:
        Path(args.markdown).write_text(tables + "\n")
    if not args.keep_databases:
        for db in (CELL_DB, TEMPLATE, TEMPLATE_HISTORY):
            drop(db)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
