"""Must show 3: a dry run of files with over twenty kinds of bad row reports each one with its
file, line and column and a plain message, and writes nothing (every table counted before and
after); the command says the same and exits non-zero; the import refuses while any remains."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import TestCase

from imports import services
from imports.formats import Problem
from members.models import Person, Role, TimeBank
from tests.factories import make_bank, make_member

from .support import text, zipped

LONG_NAME = "A" * 90

MEMBERS = text(
    "external_id,display_name,email,status,role,joined_on,declared_balance_minutes",
    "m1,Jo Bloggs,jo@example.org,active,member,2021-03-05,",  # 2 fine
    "m2,Sam Smith,,active,member,05/03/2021,",  # 3 fine
    "m1,Jo Again,,active,member,,",  # 4
    "m3,Bad Email,not-an-email,active,member,,",  # 5
    "m4,Same Email,jo@example.org,active,member,,",  # 6
    "m5,Odd Status,,sleeping,member,,",  # 7
    "m6,Odd Role,,active,king,,",  # 8
    "m7,Bad Date,,active,member,31/02/2024,",  # 9
    "m8,,,active,member,,",  # 10
    "m9,Future Joiner,,active,member,2999-01-01,",  # 11
    "m10,Wrong Balance,,active,member,,600",  # 12
    "m11@example.org,Email As Id,,active,member,,",  # 13
    f"m12,{LONG_NAME},,active,member,,",  # 14
    "m13,US Date,,active,member,12/25/2023,",  # 15
)
EXCHANGES = text(
    "external_id,service_date,provider_external_id,recipient_external_id,minutes,description,kind,state",
    "x1,2024-01-10,m1,m2,60,Gardening,service,completed",  # 2 fine
    "x2,2024-01-11,m1,m99,60,Shopping,service,completed",  # 3
    "x3,2024-01-12,m1,m2,-30,Ironing,service,completed",  # 4
    "x4,2024-01-13,m1,m2,0,Nothing,service,completed",  # 5
    "x5,2024-01-14,m1,m2,two,Lifts,service,completed",  # 6
    "x6,2024-13-45,m1,m2,60,Bad date,service,completed",  # 7
    "x7,2999-01-01,m1,m2,60,Future,service,completed",  # 8
    "x8,2024-01-15,m1,m1,60,Self,service,completed",  # 9
    "x9,2024-01-16,m1,m2,1500,Huge,service,completed",  # 10
    'x10,2024-01-17,m1,m2,60,"=HYPERLINK(""http://evil.example"")",service,completed',  # 11
    "x11,2024-01-18,m1,m2,60,Odd kind,barter,completed",  # 12
    "x12,2024-01-19,m1,m2,60,Odd state,service,lost",  # 13
    "x1,2024-01-20,m1,m2,60,Twice,service,completed",  # 14
    "x13,2024-01-21,#pot,m2,60,Pot helps,service,completed",  # 15
    "x14,2024-01-22,m1,m2,1.5,Fraction,service,completed",  # 16
    "x15,2024-01-23,m1,m2,60,,service,completed",  # 17
    "x16,2024-01-24,m1,m2,60,Ragged,service,completed,extra,cells",  # 18
    "x17,2024-01-25,m10,m2,60,Checked balance,service,completed",  # 19 fine (m10's balance)
    "x18,2023-12-01,m2,m1,30,Before opening,service,completed",  # 20
)
OPENINGS = text(
    "member_external_id,balance_minutes,as_of_date",
    "m2,120,2023-12-31",  # 2 fine
    "m2,60,2023-12-31",  # 3
    "m404,60,2023-12-31",  # 4
)
# Saved from a spreadsheet as "CSV" in Windows-1252, not UTF-8.
OFFERS = "external_id,member_external_id,kind,title\no1,m1,offer,Café visits\n".encode("cp1252")

FILES = {
    "members.csv": MEMBERS,
    "exchanges.csv": EXCHANGES,
    "opening_balances.csv": OPENINGS,
    "offers.csv": OFFERS,
}

# (file, line, column, words of the message): one kind of bad row each.
EXPECTED = [
    ("members.csv", 4, "external_id", "is used twice (first on line 2)"),
    ("members.csv", 5, "email", "“not-an-email” is not an email address"),
    ("members.csv", 6, "email", "is already the email of line 2"),
    ("members.csv", 7, "status", "“sleeping” is not a status"),
    ("members.csv", 8, "role", "“king” is not a role"),
    ("members.csv", 9, "joined_on", "“31/02/2024” is not a date"),
    ("members.csv", 10, "display_name", "Every member needs a name"),
    ("members.csv", 11, "joined_on", "This date is in the future"),
    (
        "members.csv",
        12,
        "declared_balance_minutes",
        "declared balance of 10 hours does not match their history: 1 hour",
    ),
    ("members.csv", 13, "external_id", "not email addresses"),
    ("members.csv", 14, "display_name", "Too long: at most 80 characters"),
    ("members.csv", 15, "joined_on", "dates are day first, as in the UK (25/12/2023)"),
    ("exchanges.csv", 3, "recipient_external_id", "No member with external id m99"),
    ("exchanges.csv", 4, "minutes", "“-30” is negative"),
    ("exchanges.csv", 5, "minutes", "zero hours"),
    ("exchanges.csv", 6, "minutes", "“two” is not a number of minutes"),
    ("exchanges.csv", 7, "service_date", "“2024-13-45” is not a date"),
    ("exchanges.csv", 8, "service_date", "This date is in the future"),
    ("exchanges.csv", 9, "recipient_external_id", "‘Jo Bloggs’ cannot exchange with themselves"),
    (
        "exchanges.csv",
        10,
        "minutes",
        "‘Jo Bloggs’ gave 25 hours in one exchange, more than this bank's largest exchange of 24 hours",
    ),
    ("exchanges.csv", 11, "description", "is a spreadsheet formula, not its value"),
    ("exchanges.csv", 12, "kind", "“barter” is not a kind of exchange"),
    ("exchanges.csv", 13, "state", "“lost” is not a state"),
    ("exchanges.csv", 14, "external_id", "The external id x1 is used twice (first on line 2)"),
    ("exchanges.csv", 15, "provider_external_id", "The community pot takes part only in donations"),
    ("exchanges.csv", 16, "minutes", "“1.5” is not a whole number of minutes"),
    ("exchanges.csv", 17, "description", "Say in a few words what the help was"),
    ("exchanges.csv", 18, "cell 9", "This row has 10 cells but the header names 8 columns"),
    (
        "exchanges.csv",
        20,
        "service_date",
        "The opening balance of ‘Sam Smith’ is as of 2023-12-31 and already includes",
    ),
    (
        "opening_balances.csv",
        3,
        "member_external_id",
        "A second opening balance for ‘Sam Smith’ (first on line 2)",
    ),
    ("opening_balances.csv", 4, "member_external_id", "No member with external id m404"),
    ("offers.csv", 2, "title", "The file is not UTF-8 (byte 0xE9 here)"),
]


def table_counts() -> dict[str, int]:
    """Rows in every table of the project's own apps."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label
        in {"members", "ledger", "exchanges", "reports", "audit", "imports", "account", "reminders"}
    }


class ADryRunOfBadFiles(TestCase):
    bank: TimeBank
    admin: Person

    @classmethod
    def setUpTestData(cls) -> None:
        cls.bank = make_bank(name="Shire Time Bank", slug="shire")
        cls.admin = make_member(cls.bank, "Ada Admin", role=Role.ADMIN)

    def assert_reported(self, problems: list[Problem]) -> None:
        found = [(p.file, p.line, p.column, p.message) for p in problems]
        for file, line, column, words in EXPECTED:
            with self.subTest(file=file, line=line, column=column):
                matches = [f for f in found if f[:3] == (file, line, column) and words in f[3]]
                self.assertEqual(
                    len(matches),
                    1,
                    f"{words!r} not reported at {file}:{line}:{column}; got {found}",
                )
        # Every problem says where: a line, and a column unless it is about the whole row.
        self.assertTrue(all(p.line is not None and p.column for p in problems), found)
        # Nothing else: each bad row is reported once, and the good rows not at all.
        self.assertEqual(len(problems), len(EXPECTED), "\n".join(str(p) for p in problems))

    def test_every_bad_row_is_reported_where_it_is_and_nothing_is_written(self):
        self.assertGreaterEqual(len({words for *_, words in EXPECTED}), 20)
        before = table_counts()
        plan = services.dry_run(files=FILES, time_bank=self.bank, actor=self.admin)
        self.assertEqual(table_counts(), before)
        self.assert_reported(plan.problems)
        self.assertFalse(plan.ok)

    def test_the_command_prints_each_problem_exits_non_zero_and_writes_nothing(self):
        before = table_counts()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bank.zip"
            path.write_bytes(zipped(FILES))
            for dry in (["--dry-run"], []):
                with self.subTest(dry=dry):
                    out = __import__("io").StringIO()
                    with self.assertRaisesMessage(
                        CommandError,
                        f"{len(EXPECTED)} problem(s) in the files: nothing was imported.",
                    ):
                        call_command("import_bank", str(path), "--bank", "shire", *dry, stdout=out)
                    self.assertIn(
                        "problem: exchanges.csv, line 10, column minutes: ‘Jo Bloggs’ gave 25 hours",
                        out.getvalue(),
                    )
        self.assertEqual(table_counts(), before)

    def test_the_import_refuses_while_a_problem_remains(self):
        before = table_counts()
        result = services.import_files(
            files=FILES, file_name="bank.zip", time_bank=self.bank, actor=self.admin
        )
        self.assertIsNone(result.run)
        self.assertEqual(table_counts(), before)

    def test_the_good_rows_alone_import(self):
        good = {
            "members.csv": text(*MEMBERS.decode().splitlines()[:3]),
            "exchanges.csv": text(*EXCHANGES.decode().splitlines()[:2]),
            "opening_balances.csv": text(*OPENINGS.decode().splitlines()[:2]),
        }
        result = services.import_files(
            files=good, file_name="bank.zip", time_bank=self.bank, actor=self.admin
        )
        self.assertEqual(result.plan.problems, [])
        self.assertEqual(result.reconciliation["bank_sum"], 0)
