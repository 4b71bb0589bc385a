"""The invariant checks behind ``services.verify_ledger`` and ``manage.py ledger_verify``.

Each check is one set-based query (plain SQL that runs on PostgreSQL and SQLite) returning
only the offending rows, so a clean ledger costs a handful of scans however large it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection

from .models import Account, format_hours

# Table names, spelled once.
A = Account._meta.db_table
E = "ledger_entry"
J = "ledger_journal"


def _rows(sql: str, time_bank_id: int | None, **filters: str) -> list[tuple[Any, ...]]:
    """Run ``sql``, replacing each ``{name}`` placeholder by ``filters[name]`` (a condition on
    the time bank, with ``%s`` for its id) or, to check every bank, by a true condition."""
    params: list[Any] = []

    def condition(match: re.Match[str]) -> str:
        if time_bank_id is None:
            return "1 = 1"
        fragment = filters[match.group(1)]
        params.extend([time_bank_id] * fragment.count("%s"))
        return fragment

    sql = re.sub(r"\{(\w+)\}", condition, sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _labels(account_ids: Iterable[int]) -> dict[int, str]:
    accounts = Account.objects.filter(pk__in=set(account_ids)).select_related(
        "person", "organisation", "time_bank"
    )
    return {a.pk: f"account {a.pk} ({a.holder_name}, {a.time_bank.slug})" for a in accounts}


def _journals_unbalanced(bank: int | None) -> list[str]:
    rows = _rows(
        f"""
        SELECT j.id, COALESCE(SUM(e.amount_minutes), 0), COUNT(e.id)
          FROM {J} j LEFT JOIN {E} e ON e.journal_id = j.id
         WHERE {{bank}}
         GROUP BY j.id
        HAVING COALESCE(SUM(e.amount_minutes), 0) <> 0 OR COUNT(e.id) < 2
        """,
        bank,
        bank="j.time_bank_id = %s",
    )
    return [
        f"journal {jid}: its {count} entries sum to {total} minutes, not zero"
        if count >= 2
        else f"journal {jid}: has {count} entries, an exchange needs at least two"
        for jid, total, count in rows
    ]


def _banks_unbalanced(bank: int | None) -> list[str]:
    rows = _rows(
        f"""
        SELECT a.time_bank_id, SUM(a.posted_minutes), SUM(a.pending_out_minutes),
               SUM(a.pending_in_minutes)
          FROM {A} a
         WHERE {{bank}}
         GROUP BY a.time_bank_id
        HAVING SUM(a.posted_minutes) <> 0 OR SUM(a.pending_out_minutes) <> SUM(a.pending_in_minutes)
        """,
        bank,
        bank="a.time_bank_id = %s",
    )
    return [
        f"time bank {tb}: balances sum to {posted} minutes, not zero; "
        f"holds out {held_out} minutes vs in {held_in} minutes"
        for tb, posted, held_out, held_in in rows
    ]


def _accounts_disagree(bank: int | None) -> list[str]:
    """Stored balance, version and holds against the entries; limits."""
    rows = _rows(
        f"""
        SELECT * FROM (
            SELECT a.id, a.posted_minutes, a.version, a.pending_out_minutes, a.pending_in_minutes,
                   a.credit_limit_minutes, a.max_balance_minutes,
                   COALESCE(s.posted_sum, 0) AS posted_sum,
                   COALESCE(s.posted_count, 0) AS posted_count,
                   COALESCE(s.max_version, 0) AS max_version,
                   COALESCE(s.held_out, 0) AS held_out,
                   COALESCE(s.held_in, 0) AS held_in,
                   COALESCE(last.balance_after, 0) AS last_balance
              FROM {A} a
              LEFT JOIN (
                    SELECT e.account_id,
                           SUM(CASE WHEN j.state = 'posted' THEN e.amount_minutes ELSE 0 END)
                               AS posted_sum,
                           SUM(CASE WHEN j.state = 'posted' THEN 1 ELSE 0 END) AS posted_count,
                           MAX(e.account_version) AS max_version,
                           SUM(CASE WHEN j.state = 'pending' AND e.amount_minutes < 0
                                    THEN -e.amount_minutes ELSE 0 END) AS held_out,
                           SUM(CASE WHEN j.state = 'pending' AND e.amount_minutes > 0
                                    THEN e.amount_minutes ELSE 0 END) AS held_in
                      FROM {E} e JOIN {J} j ON j.id = e.journal_id
                     WHERE {{journal_bank}}
                     GROUP BY e.account_id
              ) s ON s.account_id = a.id
              LEFT JOIN {E} last ON last.account_id = a.id AND last.account_version = a.version
             WHERE {{bank}}
        ) t
        WHERE posted_minutes <> posted_sum OR version <> posted_count OR version <> max_version
           OR posted_minutes <> last_balance
           OR pending_out_minutes <> held_out OR pending_in_minutes <> held_in
           OR (credit_limit_minutes IS NOT NULL
               AND posted_minutes - pending_out_minutes < credit_limit_minutes)
           OR (max_balance_minutes IS NOT NULL
               AND posted_minutes + pending_in_minutes > max_balance_minutes)
        """,
        bank,
        journal_bank="j.time_bank_id = %s",
        bank="a.time_bank_id = %s",
    )
    labels = _labels(row[0] for row in rows)
    lines: list[str] = []
    for (
        account_id,
        posted,
        version,
        pending_out,
        pending_in,
        limit,
        maximum,
        posted_sum,
        posted_count,
        max_version,
        held_out,
        held_in,
        last_balance,
    ) in rows:
        name = labels.get(account_id, f"account {account_id}")
        if posted != posted_sum:
            lines.append(
                f"{name}: stored balance {posted} minutes, but its posted entries sum to "
                f"{posted_sum} minutes"
            )
        if posted != last_balance:
            lines.append(
                f"{name}: stored balance {posted} minutes, but its last running balance is "
                f"{last_balance} minutes"
            )
        if version != posted_count or version != max_version:
            lines.append(
                f"{name}: version {version}, but it has {posted_count} posted entries "
                f"(highest version {max_version})"
            )
        if pending_out != held_out or pending_in != held_in:
            lines.append(
                f"{name}: holds out {pending_out} / in {pending_in} minutes, but its pending "
                f"journals hold {held_out} / {held_in} minutes"
            )
        if limit is not None and posted - pending_out < limit:
            lines.append(
                f"{name}: {format_hours(posted - pending_out)} available is past its credit "
                f"limit of {format_hours(limit)}"
            )
        if maximum is not None and posted + pending_in > maximum:
            lines.append(
                f"{name}: {format_hours(posted + pending_in)} is over its maximum balance of "
                f"{format_hours(maximum)}"
            )
    return lines


def _running_balances_broken(bank: int | None) -> list[str]:
    rows = _rows(
        f"""
        SELECT account_id, account_version, balance_after, previous, amount_minutes FROM (
            SELECT e.account_id, e.account_version, e.balance_after, e.amount_minutes,
                   LAG(e.balance_after, 1, 0)
                       OVER (PARTITION BY e.account_id ORDER BY e.account_version) AS previous,
                   ROW_NUMBER()
                       OVER (PARTITION BY e.account_id ORDER BY e.account_version) AS position
              FROM {E} e JOIN {A} a ON a.id = e.account_id
             WHERE e.account_version IS NOT NULL AND {{bank}}
        ) t
        WHERE balance_after <> previous + amount_minutes OR account_version <> position
        """,
        bank,
        bank="a.time_bank_id = %s",
    )
    labels = _labels(row[0] for row in rows)
    return [
        f"{labels.get(aid, f'account {aid}')}: entry version {version} has running balance "
        f"{after} minutes, but {previous} + {amount} = {previous + amount}"
        for aid, version, after, previous, amount in rows
    ]


def _posted_at_goes_back(bank: int | None) -> list[str]:
    """Along an account's entries (by version), ``posted_at`` never goes back: every posting
    reads the database's one clock after it holds the account's lock."""
    rows = _rows(
        f"""
        SELECT account_id, account_version FROM (
            SELECT e.account_id, e.account_version, e.posted_at,
                   LAG(e.posted_at)
                       OVER (PARTITION BY e.account_id ORDER BY e.account_version) AS previous
              FROM {E} e JOIN {A} a ON a.id = e.account_id
             WHERE e.account_version IS NOT NULL AND {{bank}}
        ) t
        WHERE posted_at < previous
        """,
        bank,
        bank="a.time_bank_id = %s",
    )
    labels = _labels(row[0] for row in rows)
    return [
        f"{labels.get(aid, f'account {aid}')}: entry version {version} is stamped before "
        f"version {version - 1} (posted_at goes back in time)"
        for aid, version in rows
    ]


def _entries_disagree_with_state(bank: int | None) -> list[str]:
    """Posted journals have posted entries; pending, voided and expired ones have none, so a
    journal cannot have been both posted and voided (resolved twice)."""
    rows = _rows(
        f"""
        SELECT j.id, j.state, COUNT(*)
          FROM {E} e JOIN {J} j ON j.id = e.journal_id
         WHERE (CASE WHEN j.state = 'posted' THEN 1 ELSE 0 END)
               <> (CASE WHEN e.balance_after IS NOT NULL THEN 1 ELSE 0 END)
           AND {{bank}}
         GROUP BY j.id, j.state
        """,
        bank,
        bank="j.time_bank_id = %s",
    )
    return [
        f"journal {jid} is {state} but {count} of its entries are posted (resolved twice?)"
        if state != "posted"
        else f"journal {jid} is posted but {count} of its entries are not"
        for jid, state, count in rows
    ]


def _reversals_broken(bank: int | None) -> list[str]:
    twice = _rows(
        f"""
        SELECT j.reverses_id, COUNT(*) FROM {J} j
         WHERE j.reverses_id IS NOT NULL AND {{bank}}
         GROUP BY j.reverses_id HAVING COUNT(*) > 1
        """,
        bank,
        bank="j.time_bank_id = %s",
    )
    lines = [f"journal {jid} is reversed {count} times" for jid, count in twice]
    wrong = _rows(
        f"""
        SELECT r.id, r.reverses_id, o.state, r.state FROM {J} r JOIN {J} o ON o.id = r.reverses_id
         WHERE (o.state <> 'posted' OR r.state <> 'posted') AND {{bank}}
        """,
        bank,
        bank="r.time_bank_id = %s",
    )
    lines += [
        f"journal {rid} reverses journal {oid}, but the original is {ostate} "
        f"and the reversal {rstate}"
        for rid, oid, ostate, rstate in wrong
    ]
    unmatched = _rows(
        f"""
        SELECT DISTINCT r.id, r.reverses_id FROM {J} r
          JOIN {E} re ON re.journal_id = r.id
          LEFT JOIN {E} oe ON oe.journal_id = r.reverses_id AND oe.account_id = re.account_id
                          AND oe.amount_minutes = -re.amount_minutes
         WHERE r.reverses_id IS NOT NULL AND oe.id IS NULL AND {{bank}}
        """,
        bank,
        bank="r.time_bank_id = %s",
    )
    lines += [
        f"journal {rid} does not mirror journal {oid}, which it reverses" for rid, oid in unmatched
    ]
    of_reversals = _rows(
        f"""
        SELECT r.id, r.reverses_id FROM {J} r JOIN {J} o ON o.id = r.reverses_id
         WHERE o.reverses_id IS NOT NULL AND {{bank}}
        """,
        bank,
        bank="r.time_bank_id = %s",
    )
    lines += [
        f"journal {rid} reverses journal {oid}, which is itself a reversal"
        for rid, oid in of_reversals
    ]
    return lines


def _crossing_banks(bank: int | None) -> list[str]:
    rows = _rows(
        f"""
        SELECT e.journal_id, e.account_id FROM {E} e
          JOIN {J} j ON j.id = e.journal_id JOIN {A} a ON a.id = e.account_id
         WHERE a.time_bank_id <> j.time_bank_id AND ({{bank}})
        """,
        bank,
        bank="(j.time_bank_id = %s OR a.time_bank_id = %s)",
    )
    return [
        f"journal {jid} has an entry on account {aid} of another time bank" for jid, aid in rows
    ]


def _mirrors_not_opposite(bank: int | None) -> list[str]:
    """Each mirror account (bank A's for partner B) against its twin (B's for A): equal and
    opposite, holds out of one equal to holds into the other. A mirror whose twin is missing
    must be empty. The two halves of a cross-bank exchange always move together."""
    rows = _rows(
        f"""
        SELECT a.id, a.time_bank_id, a.partner_bank_id, a.posted_minutes,
               a.pending_out_minutes, a.pending_in_minutes,
               b.id, COALESCE(b.posted_minutes, 0), COALESCE(b.pending_out_minutes, 0),
               COALESCE(b.pending_in_minutes, 0)
          FROM {A} a
          LEFT JOIN {A} b ON b.kind = 'mirror' AND b.time_bank_id = a.partner_bank_id
                         AND b.partner_bank_id = a.time_bank_id
         WHERE a.kind = 'mirror' AND {{bank}}
           AND (a.posted_minutes + COALESCE(b.posted_minutes, 0) <> 0
                OR a.pending_out_minutes <> COALESCE(b.pending_in_minutes, 0)
                OR a.pending_in_minutes <> COALESCE(b.pending_out_minutes, 0))
        """,
        bank,
        bank="(a.time_bank_id = %s OR a.partner_bank_id = %s)",
    )
    return [
        f"mirror account {aid} (bank {tb} for bank {partner}): {posted} minutes, holds out "
        f"{out} / in {into}; its twin {bid or 'is missing'}: {twin_posted} minutes, holds out "
        f"{twin_out} / in {twin_in}: not equal and opposite"
        for aid, tb, partner, posted, out, into, bid, twin_posted, twin_out, twin_in in rows
    ]


CHECKS: list[Callable[[int | None], list[str]]] = [
    _journals_unbalanced,
    _banks_unbalanced,
    _accounts_disagree,
    _running_balances_broken,
    _posted_at_goes_back,
    _entries_disagree_with_state,
    _reversals_broken,
    _crossing_banks,
    _mirrors_not_opposite,
]


def violations(*, time_bank_id: int | None) -> list[str]:
    lines: list[str] = []
    for check in CHECKS:
        lines.extend(check(time_bank_id))
    return lines
