"""A reversal is never reversed: a trigger on both backends refuses a journal that reverses a
journal which is itself a reversal (``ledger.services.reverse_journal`` refuses it first, with
``ReversalNotReversible``; this is for anything that writes past it).

See the module docstring of ``ledger/models.py``.
"""

from django.db import migrations

POSTGRESQL = [
    r"""
CREATE OR REPLACE FUNCTION ledger_journal_reversal_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reverses_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM ledger_journal o WHERE o.id = NEW.reverses_id AND o.reverses_id IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'ledger journal %: a reversal is never reversed', NEW.reverses_id
            USING ERRCODE = '23001';
    END IF;
    RETURN NEW;
END $$;
""",
    """
CREATE TRIGGER ledger_journal_no_reversal_of_reversal BEFORE INSERT ON ledger_journal
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_reversal_guard();
""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_journal_no_reversal_of_reversal ON ledger_journal",
    "DROP FUNCTION IF EXISTS ledger_journal_reversal_guard()",
]
SQLITE = [
    """
CREATE TRIGGER ledger_journal_no_reversal_of_reversal BEFORE INSERT ON ledger_journal
WHEN NEW.reverses_id IS NOT NULL
     AND (SELECT o.reverses_id FROM ledger_journal o WHERE o.id = NEW.reverses_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'ledger journal insert refused: a reversal is never reversed');
END
""",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS ledger_journal_no_reversal_of_reversal"]

STATEMENTS = {"postgresql": (POSTGRESQL, POSTGRESQL_REVERSE), "sqlite": (SQLITE, SQLITE_REVERSE)}


def install(apps, schema_editor):
    forward, _ = STATEMENTS.get(schema_editor.connection.vendor, ([], []))
    for statement in forward:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    _, reverse = STATEMENTS.get(schema_editor.connection.vendor, ([], []))
    for statement in reverse:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_migration_account")]

    operations = [migrations.RunPython(install, uninstall)]
