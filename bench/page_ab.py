"""Two versions of the code, the same pages, taking turns: what a change saves, on a shared
machine whose speed moves by half within the hour (so two runs of ``page_speed.py`` an hour
apart cannot tell a 10 % change from the weather).

    .venv/bin/python bench/page_speed.py --keep-database      # once: the data
    .venv/bin/python bench/page_ab.py --against fb18e70 [--rounds 2] [--requests 40]
        [--pages dashboard,statement,desk] [--database timebank_pagespeed]
        [--redis redis://127.0.0.1:6379/3]

Checks ``--against`` out into a temporary git worktree, then for each round runs one child
process per version (alternating, so both see the same machine) that makes ``--requests``
requests of each page through Django's test client, in process, on the page-speed bench's
kept database (``--database``, ``timebank_pagespeed``) and Redis database 3 (``--redis``): the
dashboard, the statement and the desk (``--pages``). Prints the fastest, the median and the
95th percentile per page and version over all rounds, the median CPU time of the Django
process per request (what the page costs it whatever the machine's load; PostgreSQL's share
is not in it), and the load average at each round.

The database is the one this tree migrated: an index the change adds is there for both
versions (drop it by hand between rounds to time it too). Exit status 1 if a page fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(root: str, requests: int, var_dir: str) -> None:
    """One version's timings, one JSON line per page: {"page": ..., "ms": [...]}."""
    sys.path.insert(0, root)
    os.chdir(root)
    os.environ.update(
        {
            "DATABASE_URL": os.environ["PAGE_AB_DATABASE_URL"],
            "REDIS_URL": os.environ["PAGE_AB_REDIS_URL"],
            "DJANGO_SETTINGS_MODULE": "timebank.settings",
            "DEBUG": "false",
            "SECRET_KEY": "page-ab-bench-" + "x" * 40,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": var_dir,
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from members.models import TimeBank, User

    if not (Path(var_dir) / "static" / "staticfiles.json").exists():  # once per version
        call_command("collectstatic", interactive=False, verbosity=0)
    slug = TimeBank.objects.order_by("pk").values_list("slug", flat=True).first()
    clients = {}
    for email in ("longstanding@bench.example.org", "broker@bench.example.org"):
        clients[email] = Client()
        clients[email].force_login(User.objects.get(email=email))
    member, broker = clients.values()
    pages = {
        "dashboard": (member, reverse("dashboard", args=[slug])),
        "statement": (member, reverse("statement", args=[slug])),
        "desk": (broker, reverse("desk", args=[slug])),
    }
    for name, (client, path) in pages.items():
        if name not in os.environ["PAGE_AB_PAGES"].split(","):
            continue
        for _ in range(5):
            if client.get(path).status_code != 200:
                raise SystemExit(f"{path}: not 200")
        times, cpu = [], []
        for _ in range(requests):
            started, cpu_started = time.perf_counter(), time.process_time()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        print(json.dumps({"page": name, "ms": times, "cpu": cpu}), flush=True)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="the other version (a git revision)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--pages", default="dashboard,statement,desk")
    parser.add_argument("--database", default="timebank_pagespeed")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault(
        "PAGE_AB_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{args.database}"
    )
    os.environ.setdefault("PAGE_AB_REDIS_URL", args.redis)
    os.environ.setdefault("PAGE_AB_PAGES", args.pages)
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    if not args.against:
        parser.error("--against is required: the revision to compare this tree with")

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as other, tempfile.TemporaryDirectory() as var:
        subprocess.run(
            ["git", "worktree", "add", "--detach", other, args.against],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        trees = {args.against: other, f"{head} (this tree)": str(ROOT)}
        found: dict[tuple[str, str], list[float]] = {}
        # This process's CPU time per request: what the page costs Django, whatever the load
        # (PostgreSQL's share is not in it).
        cpu: dict[tuple[str, str], list[float]] = {}
        loads = []
        try:
            for _ in range(args.rounds):
                loads.append(os.getloadavg()[0])
                for label, tree in trees.items():
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", tree]
                        + [str(args.requests), f"{var}/{Path(tree).name}"],
                        capture_output=True,
                        text=True,
                    )
                    if out.returncode:
                        print(f"{label}: {out.stderr.strip().splitlines()[-1]}")
                        return 1
                    for line in out.stdout.splitlines():
                        row = json.loads(line)
                        found.setdefault((row["page"], label), []).extend(row["ms"])
                        cpu.setdefault((row["page"], label), []).extend(row["cpu"])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", other], cwd=ROOT)

    print(
        f"{args.rounds} rounds of {args.requests} requests per page and version, in process; "
        f"load average (1 min) at each round: {', '.join(f'{x:.1f}' for x in loads)}\n"
    )
    print(
        "| page | "
        + " | ".join(f"{label}: fastest / median / p95 ms (CPU median)" for label in trees)
        + " |"
    )
    print("|---|" + "---|" * len(trees))
    for page in dict.fromkeys(page for page, _label in found):
        cells = [
            f"{min(found[page, label]):.1f} / {statistics.median(found[page, label]):.1f} / "
            f"{p95(found[page, label]):.1f} ({statistics.median(cpu[page, label]):.1f})"
            for label in trees
        ]
        print(f"| {page} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
