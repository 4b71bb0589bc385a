"""The ledger's rules inside the database: append-only triggers (PostgreSQL and SQLite), the
deferred sum-to-zero constraint trigger and the one-round-trip posting function (PostgreSQL).

See the module docstring of ``ledger/models.py`` for what each rule guarantees.

SQLite note: Django alters a SQLite table by rebuilding it, which drops its triggers. A later
migration that alters a ledger table must re-run ``install`` from this module afterwards.
"""

from django.db import migrations

# --- PostgreSQL ---------------------------------------------------------------------------

POSTGRESQL = [
    # Posting, in one round trip. Steps match ledger.services._post_in_python.
    r"""
CREATE OR REPLACE FUNCTION ledger_post_journal(
    p_bank bigint, p_key text, p_fingerprint text, p_accounts bigint[], p_amounts bigint[],
    p_effective date, p_recorded_by bigint, p_description text, p_category text,
    p_pending boolean, p_reverses bigint,
    OUT o_journal_id bigint, OUT o_recorded_at timestamptz, OUT o_replayed boolean
) LANGUAGE plpgsql AS $$
DECLARE
    v_fingerprint text;
    v_account ledger_account%ROWTYPE;
    v_amount bigint;
    v_posted_at timestamptz;
    i integer;
BEGIN
    o_replayed := false;
    o_recorded_at := clock_timestamp();
    -- 1. Claim the idempotency key. A concurrent call with the same key waits on the unique
    --    index until the first commits (then replays) or rolls back (then goes ahead).
    INSERT INTO ledger_journal (time_bank_id, state, effective_date, recorded_at, recorded_by_id,
                                description, category, idempotency_key, fingerprint,
                                reverses_id, decision_reason)
    VALUES (p_bank, CASE WHEN p_pending THEN 'pending' ELSE 'posted' END, p_effective,
            o_recorded_at, p_recorded_by, p_description, p_category, p_key, p_fingerprint,
            p_reverses, '')
    ON CONFLICT (time_bank_id, idempotency_key) DO NOTHING
    RETURNING id INTO o_journal_id;
    IF o_journal_id IS NULL THEN
        SELECT j.id, j.recorded_at, j.fingerprint INTO o_journal_id, o_recorded_at, v_fingerprint
          FROM ledger_journal j WHERE j.time_bank_id = p_bank AND j.idempotency_key = p_key;
        IF v_fingerprint IS DISTINCT FROM p_fingerprint THEN
            RAISE EXCEPTION 'idempotency key % reused with different details', p_key
                USING ERRCODE = 'TBL02', DETAIL = o_journal_id::text;
        END IF;
        o_replayed := true;
        RETURN;
    END IF;
    IF cardinality(p_accounts) < 2 OR cardinality(p_accounts) <> cardinality(p_amounts)
       OR 0 = ANY(p_amounts) OR (SELECT sum(x) FROM unnest(p_amounts) x) <> 0 THEN
        RAISE EXCEPTION 'a journal needs two or more non-zero legs summing to zero'
            USING ERRCODE = 'TBL01';
    END IF;
    -- 2. Lock the accounts in ascending id order: postings never wait on each other in a cycle.
    PERFORM 1 FROM ledger_account a WHERE a.id = ANY(p_accounts) ORDER BY a.id FOR UPDATE;
    v_posted_at := clock_timestamp();
    -- 3. Each leg moves the posted balance (or the hold) only if the account stays within its
    --    limits; the same test as services._within_limits.
    FOR i IN 1 .. cardinality(p_accounts) LOOP
        v_amount := p_amounts[i];
        UPDATE ledger_account a
           SET posted_minutes = a.posted_minutes + CASE WHEN p_pending THEN 0 ELSE v_amount END,
               version = a.version + CASE WHEN p_pending THEN 0 ELSE 1 END,
               pending_out_minutes = a.pending_out_minutes
                   + CASE WHEN p_pending THEN greatest(-v_amount, 0) ELSE 0 END,
               pending_in_minutes = a.pending_in_minutes
                   + CASE WHEN p_pending THEN greatest(v_amount, 0) ELSE 0 END
         WHERE a.id = p_accounts[i] AND a.time_bank_id = p_bank
           AND (v_amount > 0 OR a.credit_limit_minutes IS NULL
                OR a.posted_minutes - a.pending_out_minutes + v_amount >= a.credit_limit_minutes)
           AND (v_amount < 0 OR a.max_balance_minutes IS NULL
                OR a.posted_minutes + a.pending_in_minutes + v_amount <= a.max_balance_minutes)
        RETURNING a.* INTO v_account;
        IF NOT FOUND THEN
            SELECT a.* INTO v_account FROM ledger_account a WHERE a.id = p_accounts[i];
            IF NOT FOUND OR v_account.time_bank_id <> p_bank THEN
                RAISE EXCEPTION 'account % belongs to another time bank', p_accounts[i]
                    USING ERRCODE = 'TBL05', DETAIL = p_accounts[i]::text;
            ELSIF v_amount < 0 THEN
                RAISE EXCEPTION 'account % would pass its credit limit', p_accounts[i]
                    USING ERRCODE = 'TBL03', DETAIL = p_accounts[i]::text;
            ELSE
                RAISE EXCEPTION 'account % would pass its maximum balance', p_accounts[i]
                    USING ERRCODE = 'TBL04', DETAIL = p_accounts[i]::text;
            END IF;
        END IF;
        INSERT INTO ledger_entry (journal_id, account_id, amount_minutes, balance_after,
                                  account_version, posted_at)
        VALUES (o_journal_id, p_accounts[i], v_amount,
                CASE WHEN p_pending THEN NULL ELSE v_account.posted_minutes END,
                CASE WHEN p_pending THEN NULL ELSE v_account.version END,
                CASE WHEN p_pending THEN NULL ELSE v_posted_at END);
    END LOOP;
END $$;
""",
    # Journals: never deleted; changed only by the one transition out of pending.
    r"""
CREATE OR REPLACE FUNCTION ledger_journal_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.state = 'pending' AND NEW.state IN ('posted', 'voided', 'expired')
       AND (NEW.id, NEW.time_bank_id, NEW.effective_date, NEW.recorded_at, NEW.recorded_by_id,
            NEW.description, NEW.category, NEW.idempotency_key, NEW.fingerprint, NEW.reverses_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.time_bank_id, OLD.effective_date, OLD.recorded_at, OLD.recorded_by_id,
            OLD.description, OLD.category, OLD.idempotency_key, OLD.fingerprint, OLD.reverses_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger journal %: % refused; a journal changes only once, from pending',
        OLD.id, TG_OP USING ERRCODE = '23001';
END $$;
""",
    """
CREATE TRIGGER ledger_journal_only_resolve BEFORE UPDATE ON ledger_journal
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_guard();
""",
    """
CREATE TRIGGER ledger_journal_no_delete BEFORE DELETE ON ledger_journal
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_guard();
""",
    # Entries: never deleted; updated only once, when their pending journal posts.
    r"""
CREATE OR REPLACE FUNCTION ledger_entry_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.balance_after IS NULL AND NEW.balance_after IS NOT NULL
       AND (NEW.id, NEW.journal_id, NEW.account_id, NEW.amount_minutes)
           IS NOT DISTINCT FROM (OLD.id, OLD.journal_id, OLD.account_id, OLD.amount_minutes)
       AND (SELECT j.state FROM ledger_journal j WHERE j.id = NEW.journal_id) = 'posted'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger entry %: % refused; entries are append-only', OLD.id, TG_OP
        USING ERRCODE = '23001';
END $$;
""",
    """
CREATE TRIGGER ledger_entry_only_post BEFORE UPDATE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_guard();
""",
    """
CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_guard();
""",
    # Every journal's entries sum to zero, checked at commit whoever wrote them.
    r"""
CREATE OR REPLACE FUNCTION ledger_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_total bigint;
    v_count bigint;
BEGIN
    SELECT coalesce(sum(e.amount_minutes), 0), count(*) INTO v_total, v_count
      FROM ledger_entry e WHERE e.journal_id = NEW.journal_id;
    IF v_total <> 0 OR v_count < 2 THEN
        RAISE EXCEPTION 'ledger journal % does not balance: % entries summing to % minutes',
            NEW.journal_id, v_count, v_total USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;
""",
    """
CREATE CONSTRAINT TRIGGER ledger_entry_journal_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_journal_balanced();
""",
]

POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_entry_journal_balanced ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_entry_only_post ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_journal_no_delete ON ledger_journal",
    "DROP TRIGGER IF EXISTS ledger_journal_only_resolve ON ledger_journal",
    "DROP FUNCTION IF EXISTS ledger_journal_balanced()",
    "DROP FUNCTION IF EXISTS ledger_entry_guard()",
    "DROP FUNCTION IF EXISTS ledger_journal_guard()",
    "DROP FUNCTION IF EXISTS ledger_post_journal(bigint, text, text, bigint[], bigint[], date, "
    "bigint, text, text, boolean, bigint)",
]

# --- SQLite: the same append-only rules (sum-to-zero is left to the services and verify) ------

SQLITE = [
    """
CREATE TRIGGER ledger_journal_no_delete BEFORE DELETE ON ledger_journal
BEGIN
    SELECT RAISE(ABORT, 'ledger journals cannot be deleted: the ledger is append-only');
END
""",
    """
CREATE TRIGGER ledger_journal_only_resolve BEFORE UPDATE ON ledger_journal
WHEN NOT (
    OLD.state = 'pending' AND NEW.state IN ('posted', 'voided', 'expired')
    AND NEW.id IS OLD.id AND NEW.time_bank_id IS OLD.time_bank_id
    AND NEW.effective_date IS OLD.effective_date AND NEW.recorded_at IS OLD.recorded_at
    AND NEW.recorded_by_id IS OLD.recorded_by_id AND NEW.description IS OLD.description
    AND NEW.category IS OLD.category AND NEW.idempotency_key IS OLD.idempotency_key
    AND NEW.fingerprint IS OLD.fingerprint AND NEW.reverses_id IS OLD.reverses_id
)
BEGIN
    SELECT RAISE(ABORT, 'ledger journal update refused: a journal changes only once, from pending');
END
""",
    """
CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry
BEGIN
    SELECT RAISE(ABORT, 'ledger entries cannot be deleted: the ledger is append-only');
END
""",
    """
CREATE TRIGGER ledger_entry_only_post BEFORE UPDATE ON ledger_entry
WHEN NOT (
    OLD.balance_after IS NULL AND NEW.balance_after IS NOT NULL
    AND NEW.id IS OLD.id AND NEW.journal_id IS OLD.journal_id
    AND NEW.account_id IS OLD.account_id AND NEW.amount_minutes IS OLD.amount_minutes
    AND (SELECT j.state FROM ledger_journal j WHERE j.id = NEW.journal_id) = 'posted'
)
BEGIN
    SELECT RAISE(ABORT, 'ledger entry update refused: entries are append-only');
END
""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_entry_only_post",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete",
    "DROP TRIGGER IF EXISTS ledger_journal_only_resolve",
    "DROP TRIGGER IF EXISTS ledger_journal_no_delete",
]

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
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
