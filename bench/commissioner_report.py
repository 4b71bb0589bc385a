"""Time the quarterly commissioner report against hand-written SQL for the same figures.

    .venv/bin/python bench/commissioner_report.py [--reuse] [--runs 9] [--explain]
        [dataset options: --members 10000 --exchanges 1000000 --banks 4 --years 3 --seed 7]
    .venv/bin/python bench/commissioner_report.py --short     # CI: equality only, seconds

The dataset is ``bench/dataset.py`` (database ``timebank_benchreport``; ``--short`` uses
``timebank_benchreport_short`` with 400 members and 20,000 exchanges). For the quarter just
ended, for the largest bank alone and for all banks combined:

1. Equality: ``reports.commissioning.commissioner_report`` with threshold 1 (nothing
   suppressed, so every raw figure is visible) must give exactly the rows that ``SQL`` below
   gives, table by table (summary, other movements, reciprocity, exchange mix, categories,
   co-production, equivalent value, trend, demographics; the comparisons from the same SQL
   for the period before and a year before, and for all banks each bank's figures from the
   same SQL for that bank alone). Exit status 1 if any row differs.
2. Timing (not with ``--short``): one untimed warm-up each, then ``--runs`` interleaved runs
   of the report (the installation's threshold, as a commissioner gets it) and of the SQL
   (its one query, plus the same Python that turns numbers into rows), timed with
   ``perf_counter``; p50, p95 (nearest rank) and the ratio of the medians.
3. ``--explain``: ``EXPLAIN (ANALYZE, BUFFERS)`` of each query the report sends, slowest
   first (and of the SQL), to see where the time goes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.page_speed import machine, percentile  # noqa: E402

SHORT_DB = "timebank_benchreport_short"

# Every figure of the report in one statement and one round trip: one pass over the help of
# the widest window needed (the 12 months to the end of the period, or the period if longer),
# its legs joined once, then every figure aggregated from those two row sets.
SQL = """
WITH legs AS MATERIALIZED (
    SELECT x.journal_id, x.minutes, x.effective_date AS day, e.account_id,
           e.amount_minutes AS amount, a.kind AS account_kind
      FROM exchanges_exchange x
      JOIN ledger_entry e ON e.journal_id = x.journal_id
      JOIN ledger_account a ON a.id = e.account_id
     WHERE x.time_bank_id = ANY(%(banks)s) AND x.state = 'completed'
       AND x.kind IN ('service', 'group')
       AND x.effective_date BETWEEN %(window_start)s AND %(end)s
), accounts AS MATERIALIZED (
    -- One row per member or organisation account active in the window: what it did in the
    -- period, in the 12 months, and in which of the trend's months (a bit per month).
    SELECT account_id, account_kind,
           max(amount) FILTER (WHERE day >= %(start)s) AS gave,
           min(amount) FILTER (WHERE day >= %(start)s) AS received,
           sum(amount) FILTER (WHERE day >= %(start)s AND amount > 0) AS minutes,
           max(amount) FILTER (WHERE day >= %(year_start)s) AS year_gave,
           min(amount) FILTER (WHERE day >= %(year_start)s) AS year_received,
           bit_or(CASE WHEN day >= %(trend_first)s
                       THEN 1 << ((extract(year FROM day) * 12 + extract(month FROM day))::int
                                  - %(trend_index)s) ELSE 0 END) AS months
      FROM legs WHERE account_kind <> 'pot'
     GROUP BY account_id, account_kind
), exchanges AS MATERIALIZED (
    -- One row per exchange of the period, with its mix from its legs.
    SELECT x.kind, x.minutes, x.category_id, x.coproduction,
           CASE WHEN f.pot_pays THEN 'pot_funded'
                WHEN f.org_gives AND f.org_receives THEN 'organisation_to_organisation'
                WHEN f.org_gives THEN 'organisation_to_person'
                WHEN f.org_receives THEN 'person_to_organisation'
                ELSE 'person_to_person' END AS mix
      FROM exchanges_exchange x
      LEFT JOIN (
        SELECT journal_id,
               bool_or(account_kind = 'pot' AND amount < 0) AS pot_pays,
               bool_or(account_kind = 'organisation' AND amount > 0) AS org_gives,
               bool_or(account_kind = 'organisation' AND amount < 0) AS org_receives
          FROM legs WHERE day >= %(start)s AND account_kind <> 'member'
         GROUP BY journal_id
      ) f ON f.journal_id = x.journal_id
     WHERE x.time_bank_id = ANY(%(banks)s) AND x.state = 'completed'
       AND x.kind IN ('service', 'group')
       AND x.effective_date BETWEEN %(start)s AND %(end)s
), firsts AS MATERIALIZED (
    -- Each member approved in the period, with the date of their first help exchange.
    SELECT n.day, min(fx.effective_date) AS first
      FROM (SELECT m.person_id, m.time_bank_id,
                   (m.decided_at AT TIME ZONE %(tz)s)::date AS day
              FROM members_membership m
             WHERE m.time_bank_id = ANY(%(banks)s) AND m.role IN ('member', 'broker', 'admin')
               AND m.status IN ('approved', 'suspended', 'left')
               AND m.decided_at >= %(start_at)s AND m.decided_at < %(end_at)s) n
      LEFT JOIN ledger_account fa
        ON fa.person_id = n.person_id AND fa.time_bank_id = n.time_bank_id
      LEFT JOIN ledger_entry fe ON fe.account_id = fa.id
      LEFT JOIN exchanges_exchange fx
        ON fx.journal_id = fe.journal_id AND fx.state = 'completed'
       AND fx.kind IN ('service', 'group')
     GROUP BY n.person_id, n.time_bank_id, n.day
), people AS MATERIALIZED (
    -- Individuals active in the period, with their answers and area as an outward code.
    SELECT p.age_band, p.gender, p.disability, p.carer,
           CASE WHEN t.area = '' THEN 'not_given'
                WHEN strpos(t.area, ' ') > 0 THEN substr(t.area, 1, strpos(t.area, ' ') - 1)
                ELSE t.area END AS code
      FROM accounts ac
      JOIN ledger_account a ON a.id = ac.account_id
      JOIN members_person p ON p.id = a.person_id
     CROSS JOIN LATERAL (SELECT upper(trim(p.area)) AS area) t
     WHERE ac.account_kind = 'member' AND ac.gave IS NOT NULL
)
SELECT
  (SELECT json_build_array(count(*), count(*) FILTER (WHERE kind = 'group')) FROM exchanges),
  (SELECT json_build_array(coalesce(sum(minutes), 0),
                           count(*) FILTER (WHERE account_kind = 'member' AND gave IS NOT NULL),
                           count(*) FILTER (WHERE account_kind = 'organisation'
                                            AND gave IS NOT NULL),
                           count(*) FILTER (WHERE gave > 0), count(*) FILTER (WHERE received < 0),
                           count(*) FILTER (WHERE gave > 0 AND received < 0))
     FROM accounts),
  (SELECT json_build_array(
      count(*) FILTER (WHERE (status = 'approved'
                              OR (status = 'left' AND left_at >= %(end_at)s))
                             AND decided_at < %(end_at)s),
      count(*) FILTER (WHERE status IN ('approved', 'suspended', 'left')
                             AND decided_at >= %(start_at)s AND decided_at < %(end_at)s),
      count(*) FILTER (WHERE status = 'left' AND left_at >= %(start_at)s
                             AND left_at < %(end_at)s))
     FROM members_membership
    WHERE time_bank_id = ANY(%(banks)s) AND role IN ('member', 'broker', 'admin')),
  (SELECT json_build_array(
      percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(first - day, 0))
          FILTER (WHERE first IS NOT NULL),
      count(*) FILTER (WHERE first IS NOT NULL),
      -- Six calendar months on, clamped to a shorter month's end (timebank.dates.add_months).
      count(*) FILTER (WHERE first <= day + interval '6 months'),
      count(*))
     FROM firsts),
  (SELECT json_build_array(
      count(*) FILTER (WHERE kind = 'donation' AND state = 'completed' AND in_period),
      coalesce(sum(minutes) FILTER (WHERE kind = 'donation' AND state = 'completed'
                                    AND in_period), 0),
      count(*) FILTER (WHERE kind = 'grant' AND state = 'completed' AND in_period),
      coalesce(sum(minutes) FILTER (WHERE kind = 'grant' AND state = 'completed'
                                    AND in_period), 0),
      count(*) FILTER (WHERE state = 'reversed' AND reversal_in_period),
      coalesce(sum(minutes) FILTER (WHERE state = 'reversed' AND reversal_in_period), 0))
     FROM (SELECT m.kind, m.state, m.minutes,
                  m.effective_date BETWEEN %(start)s AND %(end)s AS in_period,
                  coalesce(r.effective_date BETWEEN %(start)s AND %(end)s, false)
                      AS reversal_in_period
             FROM exchanges_exchange m LEFT JOIN ledger_journal r ON r.id = m.reversal_id
            WHERE m.time_bank_id = ANY(%(banks)s)
              AND ((m.state = 'completed' AND m.kind IN ('donation', 'grant')
                    AND m.effective_date BETWEEN %(start)s AND %(end)s)
                   OR m.state = 'reversed')) moves),
  (SELECT json_build_array(count(*), count(*) FILTER (WHERE year_gave > 0 AND year_received < 0),
                           count(*) FILTER (WHERE year_received > 0),
                           count(*) FILTER (WHERE year_gave < 0))
     FROM accounts WHERE year_gave IS NOT NULL),
  (SELECT json_object_agg(mix, json_build_array(n, minutes))
     FROM (SELECT mix, count(*) AS n, sum(minutes) AS minutes FROM exchanges GROUP BY mix) m),
  (SELECT json_agg(json_build_array(name, n, minutes) ORDER BY minutes DESC, n DESC, name)
     FROM (SELECT c.name, count(*) AS n, sum(p.minutes) AS minutes
             FROM exchanges p LEFT JOIN members_category c ON c.id = p.category_id
            GROUP BY c.name) c),
  (SELECT json_object_agg(coproduction, json_build_array(n, minutes))
     FROM (SELECT coproduction, count(*) AS n, sum(minutes) AS minutes
             FROM exchanges GROUP BY coproduction) k),
  (SELECT json_object_agg(month, json_build_array(n, minutes))
     FROM (SELECT date_trunc('month', x.effective_date)::date AS month, count(*) AS n,
                  sum(x.minutes) AS minutes
             FROM exchanges_exchange x
            WHERE x.time_bank_id = ANY(%(banks)s) AND x.state = 'completed'
              AND x.kind IN ('service', 'group')
              AND x.effective_date BETWEEN %(trend_first)s AND %(end)s
            GROUP BY 1) t),
  (SELECT json_agg(n ORDER BY bit)
     FROM (SELECT bit, count(*) FILTER (WHERE months & (1 << bit) <> 0) AS n
             FROM accounts, generate_series(0, 11) AS bit GROUP BY bit) t),
  (SELECT json_object_agg(month, n)
     FROM (SELECT date_trunc('month', decided_at AT TIME ZONE %(tz)s)::date AS month,
                  count(*) AS n
             FROM members_membership
            WHERE time_bank_id = ANY(%(banks)s) AND role IN ('member', 'broker', 'admin')
              AND status IN ('approved', 'suspended', 'left')
              AND decided_at >= %(trend_first_at)s AND decided_at < %(end_at)s
            GROUP BY 1) t),
  (SELECT json_build_object(
      'age_band', (SELECT json_object_agg(k, n) FROM (SELECT coalesce(nullif(age_band, ''),
                   'not_given') AS k, count(*) AS n FROM people GROUP BY 1) t),
      'gender', (SELECT json_object_agg(k, n) FROM (SELECT coalesce(nullif(gender, ''),
                 'not_given') AS k, count(*) AS n FROM people GROUP BY 1) t),
      'disability', (SELECT json_object_agg(k, n) FROM (SELECT coalesce(nullif(disability, ''),
                     'not_given') AS k, count(*) AS n FROM people GROUP BY 1) t),
      'carer', (SELECT json_object_agg(k, n) FROM (SELECT coalesce(nullif(carer, ''),
                'not_given') AS k, count(*) AS n FROM people GROUP BY 1) t),
      'area', (SELECT json_object_agg(k, n) FROM (
                SELECT CASE WHEN code = 'not_given' THEN 'not_given'
                            WHEN code ~ %(outward)s THEN code
                            ELSE 'not_a_postcode_district' END AS k, count(*) AS n
                  FROM people GROUP BY 1) t))),
  (SELECT json_agg(json_build_array(id, name, pounds_per_hour::text,
                                    effective_from, source)
                   ORDER BY pounds_per_hour, name)
     FROM reports_valuerate WHERE effective_from IS NULL OR effective_from <= %(end)s)
"""


# The trade with linked banks outside the report (``between_banks``): the legs on the mirror
# accounts of completed exchanges dated in the period, per partner bank.
BETWEEN_BANKS_SQL = """
SELECT p.name,
       count(*) FILTER (WHERE e.amount_minutes < 0),
       coalesce(-sum(e.amount_minutes) FILTER (WHERE e.amount_minutes < 0), 0),
       count(*) FILTER (WHERE e.amount_minutes > 0),
       coalesce(sum(e.amount_minutes) FILTER (WHERE e.amount_minutes > 0), 0)
  FROM ledger_entry e
  JOIN ledger_account a ON a.id = e.account_id
  JOIN members_timebank p ON p.id = a.partner_bank_id
  JOIN exchanges_exchange x ON x.journal_id = e.journal_id
 WHERE a.kind = 'mirror' AND NOT (a.partner_bank_id = ANY(%(banks)s))
   AND x.time_bank_id = ANY(%(banks)s) AND x.state = 'completed'
   AND x.effective_date BETWEEN %(start)s AND %(end)s
 GROUP BY p.name
 ORDER BY p.name
"""


def sql_params(bank_ids: list[int], start: date, end: date) -> dict[str, Any]:
    from django.conf import settings

    from reports.commissioning import OUTWARD_CODE, _aware, _year_before
    from timebank.dates import add_months, first_of

    year_start = _year_before(end + timedelta(days=1))
    trend_first = add_months(first_of(end), -11)
    return {
        "banks": bank_ids,
        "start": start,
        "end": end,
        "start_at": _aware(start),
        "end_at": _aware(end + timedelta(days=1)),
        "year_start": year_start,
        "trend_first": trend_first,
        "trend_first_at": _aware(trend_first),
        "trend_index": trend_first.year * 12 + trend_first.month,
        "window_start": min(start, year_start, trend_first),
        "tz": settings.TIME_ZONE,
        "outward": OUTWARD_CODE,
    }


def sql_tables(bank_ids: list[int], start: date, end: date) -> dict[str, list[list[Any]]]:
    """The report's tables, unsuppressed (threshold 1), from the hand-written SQL: one query,
    then only the arithmetic the report also does in Python on the grouped rows (hours from
    minutes, the top ten categories, the money at each rate)."""
    from django.db import connection

    from reports.commissioning import (
        MIX,
        TOP_CATEGORIES,
        _demographic_tables,
        equivalent_value,
        hours,
    )
    from timebank.dates import add_months, first_of

    params = sql_params(bank_ids, start, end)
    with connection.cursor() as cursor:
        cursor.execute(SQL, params)
        (
            done,
            people,
            members,
            firsts,
            moves,
            year,
            mix,
            categories,
            kinds,
            trend,
            active,
            new,
            demographics,
            rates,
        ) = cursor.fetchone()
    minutes, individuals, organisations, givers, receivers, both = people
    median, exchanged, retained, newcomers = firsts
    retention = (
        (Decimal(retained) / newcomers).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if newcomers
        else None
    )
    tables: dict[str, list[list[Any]]] = {
        "summary": [
            ["hours_exchanged", hours(minutes)],
            ["exchanges", done[0]],
            ["group_sessions", done[1]],
            ["members_at_period_end", members[0]],
            ["new_members", members[1]],
            ["members_left", members[2]],
            [
                "median_days_to_first_exchange",
                None
                if not exchanged
                else Decimal(str(median)).quantize(Decimal("0.1"), ROUND_HALF_UP),
            ],
            ["retention_6_months_share", retention],
            ["active_members", individuals + organisations],
            ["active_individuals", individuals],
            ["active_organisations", organisations],
            ["givers", givers],
            ["receivers", receivers],
        ],
        "other_movements": [
            ["donations", moves[0], hours(moves[1])],
            ["grants", moves[2], hours(moves[3])],
            ["reversals", moves[4], hours(moves[5])],
        ],
        "reciprocity": [
            ["window_start", params["year_start"]],
            ["window_end", end],
            ["active_members_12_months", year[0]],
            ["gave_and_received", year[1]],
            ["only_gave", year[2]],
            ["only_received", year[3]],
            [
                "reciprocity_share",
                (Decimal(year[1]) / year[0]).quantize(Decimal("0.0001"), ROUND_HALF_UP)
                if year[0]
                else None,
            ],
        ],
    }

    def breakdown(rows: list[tuple[str, int, int]]) -> list[list[Any]]:
        total = ["total", sum(n for _, n, _ in rows), hours(sum(m for _, _, m in rows))]
        return [[k, n, hours(m)] for k, n, m in rows] + [total]

    mix = mix or {}
    tables["exchange_mix"] = breakdown([(k, *mix.get(k, (0, 0))) for k in MIX])
    categories = [(name or "Uncategorised", n, m) for name, n, m in categories or []]
    rest = categories[TOP_CATEGORIES:]
    top = categories[:TOP_CATEGORIES]
    if rest:
        top.append(("other_categories", sum(n for _, n, _ in rest), sum(m for _, _, m in rest)))
    tables["categories"] = breakdown(top)
    from exchanges.models import CoProduction

    kinds = kinds or {}
    tables["coproduction"] = breakdown(
        [(k.value, *kinds.get(k.value, (0, 0))) for k in CoProduction]
    )
    rates = rates or []
    chosen = [("low", rates[0]), ("high", rates[-1])] if rates else []
    tables["equivalent_value"] = [
        [
            estimate,
            name,
            Decimal(rate),
            date.fromisoformat(since) if since else None,
            source,
            hours(minutes),
            equivalent_value(minutes, Decimal(rate)),
        ]
        for estimate, (_, name, rate, since, source) in chosen
    ]
    trend, new = trend or {}, new or {}
    first = add_months(first_of(end), -11)
    tables["trend"] = [
        [
            month,
            hours(trend.get(month.isoformat(), (0, 0))[1]),
            trend.get(month.isoformat(), (0, 0))[0],
            active[n] if active else 0,
            new.get(month.isoformat(), 0),
        ]
        for n, month in enumerate(add_months(first, k) for k in range(12))
    ]
    with connection.cursor() as cursor:
        cursor.execute(BETWEEN_BANKS_SQL, params)
        tables["between_banks"] = [
            [
                name,
                given,
                hours(given_minutes),
                received,
                hours(received_minutes),
                hours(received_minutes - given_minutes),
            ]
            for name, given, given_minutes, received, received_minutes in cursor.fetchall()
        ]
    # The report's own folding of small areas and its total rows, on the SQL's counts.
    counts = {dimension: answers or {} for dimension, answers in demographics.items()}
    for table in _demographic_tables(counts, 1, "", hide_total=False):
        tables[table.name] = table.rows
    # The headline figures of the period, for the comparisons and the banks side by side
    # (``sql_report``): the period's own counts, among them those who both gave and received.
    tables["_headline"] = [
        ["hours_exchanged", hours(minutes)],
        ["exchanges", done[0]],
        ["active_members", individuals + organisations],
        ["givers", givers],
        ["receivers", receivers],
        ["gave_and_received", both],
        ["new_members", members[1]],
        ["members_at_period_end", members[0]],
        ["members_left", members[2]],
    ]
    return tables


def sql_report(bank_ids: list[int], start: date, end: date) -> dict[str, list[list[Any]]]:
    """``sql_tables`` of the period, with the comparisons (the same SQL run for the period
    before and the same period a year before: a period with no exchanges and no members is
    blank) and, for banks combined, each bank's headline figures beside the combined ones."""
    from reports.commissioning import comparison_periods

    tables = sql_tables(bank_ids, start, end)
    periods = [(start, end), *comparison_periods(start, end)]
    headlines = [dict(tables.pop("_headline"))]
    for s, e in periods[1:]:
        figures = dict(sql_tables(bank_ids, s, e)["_headline"])
        empty = not (figures["exchanges"] or figures["members_at_period_end"])
        headlines.append(dict.fromkeys(figures) if empty else figures)
    tables["comparisons"] = [
        ["period_start", *(s for s, _ in periods)],
        ["period_end", *(e for _, e in periods)],
        *([key, *(h[key] for h in headlines)] for key in headlines[0]),
    ]
    if len(bank_ids) > 1:
        each = [dict(sql_tables([bank], start, end)["_headline"]) for bank in bank_ids]
        tables["by_bank"] = [
            [key, *(figures[key] for figures in each), combined]
            for key, combined in headlines[0].items()
        ]
    return tables


def report_tables(banks: list[Any], start: date, end: date) -> dict[str, list[list[Any]]]:
    from reports.commissioning import commissioner_report

    report = commissioner_report(banks=banks, start=start, end=end, threshold=1)
    return {table.name: table.rows for table in report.tables}


def compare(label: str, banks: list[Any], start: date, end: date) -> list[str]:
    """The rows where the report and the SQL disagree (empty: identical)."""
    got = report_tables(banks, start, end)
    want = sql_report([b.pk for b in banks], start, end)
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"{label}: tables {sorted(got)} vs {sorted(want)}")
    for name in want:
        for a, b in zip(got.get(name, []), want[name], strict=False):
            if a != b:
                problems.append(f"{label}: {name}: report {a} != SQL {b}")
        if len(got.get(name, [])) != len(want[name]):
            problems.append(f"{label}: {name}: {len(got.get(name, []))} vs {len(want[name])} rows")
    headline = dict(got["summary"])
    print(
        f"{label}: report == SQL: {'yes' if not problems else 'NO'} "
        f"({sum(len(rows) for rows in want.values())} rows in {len(want)} tables; "
        f"{headline['exchanges']} exchanges, {headline['hours_exchanged']} hours, "
        f"{headline['active_members']} active members)",
        flush=True,
    )
    return problems


def time_runs(banks: list[Any], start: date, end: date, runs: int) -> dict[str, list[float]]:
    """Interleaved runs (the order alternates), after one untimed warm-up of each."""
    from reports.commissioning import commissioner_report

    ids = [b.pk for b in banks]
    systems = {
        "report": lambda: commissioner_report(banks=banks, start=start, end=end),
        "sql": lambda: sql_report(ids, start, end),
    }
    times: dict[str, list[float]] = {name: [] for name in systems}
    for call in systems.values():
        call()
    for run in range(runs):
        order = list(systems) if run % 2 == 0 else list(reversed(systems))
        for name in order:
            started = time.perf_counter()
            systems[name]()
            times[name].append(time.perf_counter() - started)
    return times


def explain(banks: list[Any], start: date, end: date, lines: int = 40) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.commissioning import commissioner_report

    with CaptureQueriesContext(connection) as queries:
        commissioner_report(banks=banks, start=start, end=end)
    print(f"report: {len(queries)} queries")
    with connection.cursor() as cursor:
        for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"])):
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = [row[0] for row in cursor.fetchall()]
            print(f"\n--- {float(query['time']) * 1000:.0f} ms: {query['sql'][:200]}")
            print("\n".join(plan[:lines] + [line for line in plan[lines:] if "Tim" in line]))
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + SQL, sql_params([b.pk for b in banks], start, end)
        )
        print("\n--- hand-written SQL")
        print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    dataset.add_arguments(parser)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--short", action="store_true", help="small dataset, equality only")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE every query")
    parser.add_argument(
        "--database",
        help=f"the database to build the dataset in (default {dataset.DB}, or {SHORT_DB} with "
        "--short): give your own name when others run benchmarks on the same server",
    )
    parser.add_argument(
        "--jit",
        choices=["server", "off"],
        default="server",
        help="PostgreSQL's JIT compiler as the server has it (default), or off for both sides",
    )
    args = parser.parse_args()
    if args.jit == "off":
        # libpq reads PGOPTIONS: every connection of this process (Django's) runs without JIT.
        os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c jit=off").strip()
    if args.short:
        args.members, args.exchanges, args.banks, args.years = 400, 20_000, 2, 2
    dataset.check_arguments(parser, args)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    shape = dataset.ensure_from(args, args.database or (SHORT_DB if args.short else dataset.DB))
    from django.db import connection
    from django.db.models import Count

    from members.models import TimeBank
    from reports.commissioning import preset_period

    start, end = preset_period("quarter", date.fromisoformat(shape["built_on"]))
    banks = list(TimeBank.objects.annotate(n=Count("memberships")).order_by("-n", "pk"))
    scopes = {f"one bank ({banks[0].slug})": banks[:1], f"all {len(banks)} banks": banks}
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
    print(f"quarter {start} to {end}; jit {jit}; {machine()}")
    problems = []
    for label, chosen in scopes.items():
        problems += compare(label, chosen, start, end)
    if problems:
        print("report and SQL differ:", *problems[:30], sep="\n  ")
        return 1
    if args.short:
        return 0
    if args.explain:
        for label, chosen in scopes.items():
            print(f"\n===== {label}")
            explain(chosen, start, end)
    print(f"\n{args.runs} interleaved runs each, seconds")
    print("| scope | report p50 | report p95 | SQL p50 | SQL p95 | ratio of p50s |")
    print("|---|---|---|---|---|---|")
    for label, chosen in scopes.items():
        times = time_runs(chosen, start, end, args.runs)
        r50, s50 = percentile(times["report"], 50), percentile(times["sql"], 50)
        print(
            f"| {label} | {r50:.2f} | {percentile(times['report'], 95):.2f} | {s50:.2f} | "
            f"{percentile(times['sql'], 95):.2f} | {r50 / s50:.2f}x |",
            flush=True,
        )
    print(f"after: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
