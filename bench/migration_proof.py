"""Proof that a database built on the old layout migrates forward intact (issue 21).

    .venv/bin/python bench/migration_proof.py                      # SQLite, in a temporary folder
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tb21 \\
        .venv/bin/python bench/migration_proof.py                  # PostgreSQL (a scratch database)
    make migration-proof                                           # both (PostgreSQL if DATABASE_URL)

1. The old code (``--old``; default the commit before ``listings/`` first appeared: the last one
   with offers, requests and safeguarding checks in ``members``) is unpacked with
   ``git archive`` into a temporary folder. Run from there, it migrates a fresh database and
   loads the demo bank (``load_demo``), and an admin log entry is written about a listing (the
   admin's history must follow the content type's rename). ``ledger_verify`` is run there too.
2. The database is read directly (no Django): every table's row count and a checksum of all its
   rows, the whole schema (SQLite: ``sqlite_master``; PostgreSQL: columns, constraints,
   indexes, triggers and functions), and the content types.
3. This checkout migrates it forward (``manage.py migrate``), and the same is read again.
4. It fails unless: every old table is still there with the same rows in its old columns (count
   and checksum; the audit trail and ledger included), the schema is unchanged apart from new
   tables and the changes later migrations make on purpose (``CHANGED_LATER``: each named with
   its migration; their triggers must still be there, and their old rows the same), the only
   new ``django_migrations`` rows are this checkout's, the content types of the moved models
   were renamed in place (same ids, new app labels) and nothing else changed there,
   ``ledger_verify`` is clean, ``makemigrations --check`` has nothing to do, the admin log entry
   now opens the listing through ``listings.Listing``, and the append-only triggers still refuse
   an UPDATE and a DELETE of a ledger entry and an UPDATE of an audit event.

The PostgreSQL scratch database is ``<name in DATABASE_URL>_migration_proof``, dropped and made
again on each run (never the database named in DATABASE_URL itself). Exits non-zero on any
difference, printing it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# The moved models: (old app label, new app label, model).
RENAMED = {
    ("members", "listings", "category"),
    ("members", "listings", "listing"),
    ("members", "listings", "contact"),
    ("members", "listings", "capability"),
    ("members", "safeguarding", "safeguardingrecord"),
    ("reports", "members", "commissionergrant"),
}

# Tables that migrations newer than the split change on purpose, and why. Their old columns keep
# every row; new columns, and constraints those migrations widen, are reported, not failures.
CHANGED_LATER = {
    "ledger_account": "ledger 0006_mirror_accounts: partner_bank, and the mirror kind",
    "exchanges_exchange": "exchanges 0007_between_banks: between_banks",
    # New models (interbank's) bring their permissions: the old rows all stay.
    "auth_permission": "the permissions of models newer than the split",
}
GROWS = {"auth_permission"}
# Functions that later migrations add for new database rules (PostgreSQL).
NEW_FUNCTIONS = {"ledger_mirrors_opposite"}

LOG_ENTRY = """
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from members.models import Listing, User
listing = Listing.objects.order_by("pk").first()
user = User.objects.filter(is_superuser=True).order_by("pk").first() or User.objects.order_by("pk").first()
LogEntry.objects.create(
    user=user, content_type=ContentType.objects.get_for_model(Listing), object_id=str(listing.pk),
    object_repr=str(listing)[:200], action_flag=CHANGE, change_message="migration proof",
)
print("log entry about listing", listing.pk)
"""

CHECK_LOG_ENTRY = """
from django.contrib.admin.models import LogEntry
from listings.models import Listing
entry = LogEntry.objects.get(change_message="migration proof")
assert entry.content_type.model_class() is Listing, entry.content_type
assert isinstance(entry.get_edited_object(), Listing)
print("admin log entry opens", entry.get_edited_object(), "via", entry.content_type.app_label)
"""


def run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"FAILED: {' '.join(cmd)} (in {cwd})\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def old_revision() -> str:
    first = subprocess.run(
        [
            "git",
            "log",
            "--diff-filter=A",
            "--format=%H",
            "--",
            "listings/migrations/0001_initial.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not first:
        sys.exit("listings/migrations/0001_initial.py is in no commit yet: pass --old REV")
    return f"{first[-1]}^"


def unpack(revision: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


# --- Reading the database directly ------------------------------------------------------------


def _digest(rows: list[tuple]) -> str:
    hashed = hashlib.sha256()
    for row in rows:
        hashed.update(repr(row).encode())
    return hashed.hexdigest()[:16]


class Sqlite:
    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def snapshot(self) -> dict:
        with self.connect() as db:
            tables = [
                name
                for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            rows = {
                table: [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')]
                for table in tables
            }
            schema = sorted(
                db.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
                ).fetchall(),
                key=repr,
            )
            return {"rows": rows, "schema": schema, **_django_rows(db)}

    def rows(self, table: str, columns: list[str]) -> list[tuple]:
        with self.connect() as db:
            return _select(db, table, columns)

    def refuses(self, sql: str) -> str | None:
        with self.connect() as db:
            try:
                db.execute(sql)
            except sqlite3.DatabaseError as refusal:
                db.rollback()
                return str(refusal)
            db.rollback()
            return None


class Postgres:
    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(self.url)

    def snapshot(self) -> dict:
        with self.connect() as db:
            tables = [
                name
                for (name,) in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                )
            ]
            rows = {
                table: [
                    name
                    for (name,) in db.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND table_name = %s "
                        "ORDER BY ordinal_position",
                        [table],
                    )
                ]
                for table in tables
            }
            schema = []
            for kind, query in [
                (
                    "column",
                    "SELECT table_name, column_name, data_type, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_schema = 'public'",
                ),
                (
                    "constraint",
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
                ),
                (
                    "index",
                    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
                ),
                (
                    "trigger",
                    "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) "
                    "FROM pg_trigger WHERE NOT tgisinternal",
                ),
                (
                    "function",
                    "SELECT proname, md5(prosrc) FROM pg_proc "
                    "WHERE pronamespace = 'public'::regnamespace",
                ),
            ]:
                schema += [(kind, *row) for row in db.execute(query).fetchall()]
            return {"rows": rows, "schema": sorted(schema, key=repr), **_django_rows(db)}

    def rows(self, table: str, columns: list[str]) -> list[tuple]:
        with self.connect() as db:
            return _select(db, table, columns)

    def refuses(self, sql: str) -> str | None:
        import psycopg

        with self.connect() as db:
            try:
                db.execute(sql)
            except psycopg.Error as refusal:
                db.rollback()
                return str(refusal).splitlines()[0]
            db.rollback()
            return None


def _select(db, table: str, columns: list[str]) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Every row of ``table`` in ``columns``, sorted: what the checksums compare."""
    names = ", ".join(f'"{c}"' for c in columns)
    return sorted(db.execute(f'SELECT {names} FROM "{table}"').fetchall(), key=repr)


def _django_rows(db) -> dict:  # type: ignore[no-untyped-def]
    return {
        "content_types": {
            row[0]: (row[1], row[2])
            for row in db.execute("SELECT id, app_label, model FROM django_content_type").fetchall()
        },
        "migrations": {
            (app, name) for app, name in db.execute("SELECT app, name FROM django_migrations")
        },
    }


# --- The proof ----------------------------------------------------------------------------------


def prove(backend: str, url: str, database, old: str) -> list[str]:  # type: ignore[no-untyped-def]
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="migration-proof-") as folder:
        old_tree = Path(folder) / "old"
        old_tree.mkdir()
        unpack(old, old_tree)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DEBUG": "true",
            "VAR_DIR": str(Path(folder) / "var"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("REDIS_URL", None)
        print(f"[{backend}] old code {old} in {old_tree}: migrate, load_demo")
        run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=old_tree, env=env)
        run([PYTHON, "manage.py", "load_demo"], cwd=old_tree, env=env)
        print(
            "  "
            + run(
                [PYTHON, "manage.py", "shell", "-v", "0", "-c", LOG_ENTRY], cwd=old_tree, env=env
            ).strip()
        )
        print("  " + run([PYTHON, "manage.py", "ledger_verify"], cwd=old_tree, env=env).strip())
        before = database.snapshot()
        old_rows = {table: database.rows(table, cols) for table, cols in before["rows"].items()}

        print(f"[{backend}] this checkout: migrate forward")
        migrated = run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env)
        applied = [
            line.strip() for line in migrated.splitlines() if line.strip().startswith("Applying")
        ]
        print("  " + "\n  ".join(applied))
        after = database.snapshot()
        verify = run([PYTHON, "manage.py", "ledger_verify"], cwd=ROOT, env=env).strip()
        print("  " + verify)
        if not verify.startswith("ledger ok"):
            failures.append(f"ledger_verify: {verify}")
        run([PYTHON, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=ROOT, env=env)
        print(
            "  "
            + run(
                [PYTHON, "manage.py", "shell", "-v", "0", "-c", CHECK_LOG_ENTRY], cwd=ROOT, env=env
            ).strip()
        )

        # Every table, every row, in its old columns (read while the scratch database is there).
        counts: dict[str, tuple[int, int]] = {}
        for table, columns in sorted(before["rows"].items()):
            if table in {"django_migrations", "django_content_type"}:
                continue
            if table not in after["rows"]:
                failures.append(f"table {table} is gone")
                continue
            gone = [c for c in columns if c not in after["rows"][table]]
            if gone:
                failures.append(f"table {table} lost columns {gone}")
                continue
            was, now = old_rows[table], database.rows(table, columns)
            counts[table] = (len(was), len(now))
            kept = set(was) <= set(now) if table in GROWS else was == now
            if not kept:
                failures.append(
                    f"table {table}: {len(was)} rows ({_digest(was)}) became {len(now)} "
                    f"({_digest(now)})"
                )
    new_tables = sorted(set(after["rows"]) - set(before["rows"]))
    compared = len(counts)
    total = sum(was for was, _ in counts.values())
    print(
        f"[{backend}] {compared} tables, {total} rows: counts and checksums equal"
        if not failures
        else f"[{backend}] differences found"
    )
    for table in ("audit_auditevent", "ledger_entry", "ledger_journal", "ledger_account"):
        print(f"  {table}: {counts[table][0]} rows -> {counts[table][1]}")
    if new_tables:
        print(f"  new tables (from migrations newer than the split): {', '.join(new_tables)}")

    # The schema: nothing touched but new tables, and what later migrations change on purpose
    # (never a trigger).
    def table_of(item: tuple) -> str:
        return str(item[2] if backend == "sqlite" else item[1])

    def old_schema(items: list[tuple]) -> list[tuple]:
        return [item for item in items if table_of(item) not in new_tables]

    lost = [item for item in before["schema"] if item not in after["schema"]]
    gained = [item for item in old_schema(after["schema"]) if item not in before["schema"]]
    for change, items in (("lost", lost), ("gained", gained)):
        for item in items:
            table = table_of(item)
            on_purpose = table in CHANGED_LATER or (
                backend == "postgresql" and item[0] == "function" and item[1] in NEW_FUNCTIONS
            )
            # A trigger may be added by a later migration, never taken away.
            if on_purpose and not (item[0] == "trigger" and change == "lost"):
                why = CHANGED_LATER.get(table, "a new database rule")
                print(f"  schema {change} on purpose ({why}): {item[:2]}")
            else:
                failures.append(f"schema {change}: {item}")
    triggers = [
        item
        for item in after["schema"]
        if item[0] == "trigger" and ("ledger" in str(item) or "audit" in str(item))
    ]
    print(
        f"  schema otherwise unchanged ({len(before['schema'])} items, {len(triggers)} ledger and audit triggers)"
    )

    # Migrations: only new rows.
    if not before["migrations"] <= after["migrations"]:
        failures.append(f"migration rows lost: {before['migrations'] - after['migrations']}")
    print(f"  {len(after['migrations'] - before['migrations'])} new migration rows")

    # Content types: renamed in place, nothing else changed.
    expected = dict(before["content_types"])
    for old_label, new_label, model in RENAMED:
        ids = [pk for pk, row in before["content_types"].items() if row == (old_label, model)]
        if not ids:
            failures.append(f"no content type {old_label}.{model} before the migration")
            continue
        expected[ids[0]] = (new_label, model)
        print(
            f"  content type {ids[0]}: {old_label}.{model} -> {after['content_types'].get(ids[0])}"
        )
    for pk, row in expected.items():
        if after["content_types"].get(pk) != row:
            failures.append(
                f"content type {pk}: expected {row}, found {after['content_types'].get(pk)}"
            )
    extra = {pk: row for pk, row in after["content_types"].items() if pk not in expected}
    if extra:
        print(f"  new content types (new models): {sorted(extra.values())}")
        for row in extra.values():
            if (row[0], row[1]) in {(new, model) for _, new, model in RENAMED}:
                failures.append(f"content type {row} made again instead of renamed")

    # The append-only rules still hold.
    for sql in [
        "UPDATE ledger_entry SET amount_minutes = amount_minutes + 1 "
        "WHERE id = (SELECT min(id) FROM ledger_entry)",
        "DELETE FROM ledger_entry WHERE id = (SELECT min(id) FROM ledger_entry)",
        "UPDATE audit_auditevent SET action = action WHERE id = (SELECT min(id) FROM audit_auditevent)",
    ]:
        refusal = database.refuses(sql)
        if refusal is None:
            failures.append(f"not refused: {sql}")
        else:
            print(f"  refused: {sql.split(' WHERE')[0]}: {refusal}")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", help="the old layout's commit (default: before listings/)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a PostgreSQL server and database name; the proof uses <name>_migration_proof "
        "(default DATABASE_URL; unset: SQLite in a temporary folder)",
    )
    args = parser.parse_args()
    old = args.old or old_revision()
    if args.database_url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urlparse(args.database_url)
        name = parts.path.lstrip("/") + "_migration_proof"
        url = urlunparse(parts._replace(path=f"/{name}"))
        admin = urlunparse(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}"')
            db.execute(f'CREATE DATABASE "{name}"')
        try:
            failures = prove("postgresql", url, Postgres(url), old)
        finally:
            with psycopg.connect(admin, autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory(prefix="migration-proof-db-") as folder:
            path = Path(folder) / "proof.sqlite3"
            failures = prove("sqlite", f"sqlite:///{path}", Sqlite(path), old)
    if failures:
        print("MIGRATION PROOF FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("migration proof: ok")


if __name__ == "__main__":
    main()
