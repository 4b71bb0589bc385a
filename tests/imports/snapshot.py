"""Run as a separate process on one install (DATABASE_URL, VAR_DIR): print, as JSON, what
the round trip must keep: every holder's balance (by external id, from the export), the
bank's sum, and the commissioner report of every quarter from the first exchange's to this
one's, each table's rows (and the headline of each closed month, if any)."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timebank.settings")

import django  # noqa: E402

django.setup()

from django.db.models import Min, Sum  # noqa: E402
from django.utils import timezone  # noqa: E402

from exchanges.models import Exchange  # noqa: E402
from imports.exporting import external_ids  # noqa: E402
from ledger.models import Account  # noqa: E402
from members.models import TimeBank  # noqa: E402
from reports.commissioning import commissioner_report  # noqa: E402
from timebank.dates import add_months  # noqa: E402


def quarters(first: date, today: date) -> list[tuple[date, date]]:
    start = date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    found = []
    while start <= today:
        end = add_months(start, 3)
        found.append((start, min(end.fromordinal(end.toordinal() - 1), today)))
        start = end
    return found


def main(slug: str) -> None:
    bank = TimeBank.objects.get(slug=slug)
    people, organisations, _ = external_ids(bank)
    balances = {}
    for kind, person, organisation, posted in Account.objects.filter(time_bank=bank).values_list(
        "kind", "person_id", "organisation_id", "posted_minutes"
    ):
        if person:
            balances[people.get(person, f"m{person}")] = posted
        elif organisation:
            balances[organisations.get(organisation, f"o{organisation}")] = posted
        elif kind != "mirror":
            # A mirror account stands for a linked bank (interbank), which no export carries.
            balances[kind] = posted
    first = Exchange.objects.filter(time_bank=bank).aggregate(first=Min("effective_date"))["first"]
    reports = {}
    for start, end in quarters(first, timezone.localdate()):
        report = commissioner_report(banks=[bank], start=start, end=end)
        reports[f"{start}..{end}"] = {
            table.name: [[str(cell) for cell in row] for row in table.rows]
            for table in report.tables
        }
    print(
        json.dumps(
            {
                "balances": balances,
                "bank_sum": Account.objects.filter(time_bank=bank).aggregate(
                    s=Sum("posted_minutes")
                )["s"],
                "quarters": reports,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
