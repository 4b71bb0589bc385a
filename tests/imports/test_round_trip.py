"""Must show 1: the demo bank exported, imported into an empty install, exported again gives
the same files; every balance and the commissioner report of every quarter are the same.

Two real installs, each its own database (a fresh SQLite file, or a fresh PostgreSQL
database beside the test database when the suite runs on PostgreSQL), driven through the
management commands as an operator would: ``load_demo`` and ``export_bank`` on the first,
``import_bank --create`` then ``ledger_verify`` and ``export_bank`` on the second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from django.conf import settings
from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]
FILES = ("members.csv", "exchanges.csv", "opening_balances.csv", "offers.csv")


class Install:
    """A site of its own: a database and a VAR_DIR, used through manage.py."""

    def __init__(self, folder: Path, name: str) -> None:
        self.var = folder / name
        self.var.mkdir()
        self.database = None
        if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
            base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
            self.database = f"{settings.DATABASES['default']['NAME']}_rt_{name}"
            self.admin_url = f"{base}/postgres"
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.database}"')
            url = f"{base}/{self.database}"
        else:
            url = f"sqlite:///{self.var / 'site.sqlite3'}"
        self.env = {**os.environ, "DATABASE_URL": url, "VAR_DIR": str(self.var)}
        self.env.pop("REDIS_URL", None)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise AssertionError(
                f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def snapshot(self) -> dict:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "snapshot.py"), "riverside"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    def drop(self) -> None:
        if self.database:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


class RoundTrip(SimpleTestCase):
    def test_the_demo_bank_exported_imported_and_exported_again_is_the_same_bank(self):
        with tempfile.TemporaryDirectory(prefix="round-trip-") as folder:
            tmp = Path(folder)
            first, second = Install(tmp, "a"), Install(tmp, "b")
            try:
                first.manage("migrate", "--noinput", "-v0")
                first.manage("load_demo")
                first.manage("export_bank", "--bank", "riverside", "--output", str(tmp / "one"))
                before = first.snapshot()

                second.manage("migrate", "--noinput", "-v0")
                out = second.manage(
                    "import_bank",
                    str(tmp / "one"),
                    "--bank",
                    "riverside",
                    "--create",
                    "Riverside Time Bank",
                )
                self.assertIn("bank sums to 0 hours, 0 declared balance(s) differ", out)
                self.assertIn("ledger ok", second.manage("ledger_verify"))
                second.manage("export_bank", "--bank", "riverside", "--output", str(tmp / "two"))
                after = second.snapshot()

                for name in FILES:
                    with self.subTest(file=name):
                        self.assertEqual(
                            (tmp / "two" / name).read_text(), (tmp / "one" / name).read_text()
                        )
                # The demo has history: the comparison compares something.
                exchanges = (tmp / "one" / "exchanges.csv").read_text().splitlines()
                self.assertGreater(len(exchanges), 100)
                self.assertIn(",group,", "\n".join(exchanges))
                self.assertEqual(after["balances"], before["balances"])
                self.assertEqual(after["bank_sum"], 0)
                self.assertGreaterEqual(len(before["quarters"]), 2)
                for quarter in before["quarters"]:
                    with self.subTest(quarter=quarter):
                        self.assertEqual(after["quarters"][quarter], before["quarters"][quarter])
                # Importing the same files again changes nothing.
                again = second.manage("import_bank", str(tmp / "one"), "--bank", "riverside")
                self.assertIn("nothing new", again)
            finally:
                first.drop()
                second.drop()
