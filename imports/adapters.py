"""From what banks really have to the canonical rows (``formats``): TimeOverflow's importers'
files, Komunitin's exports and its transfer upload, and the spreadsheet template.

Each reader keeps every row's own file, line and column, so the dry run names them as the
bank knows them ("transfers.csv, line 12, column 5 (amount)"). The column orders follow the
other platforms' own code, cited above each reader.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .formats import (
    COLUMNS,
    FILES,
    POT,
    Bundle,
    ImportError_,
    Problem,
    Row,
    check_cells,
    csv_records,
    decode,
    read_csv_with_header,
)
from .models import Source

# --- Recognising an upload ------------------------------------------------------------------


def detect(files: dict[str, bytes]) -> str:
    """Which ``Source`` the files look like; ``ImportError_`` if none."""
    names = {name.lower() for name in files}
    if len(files) == 1 and next(iter(names)).endswith(".xlsx"):
        return Source.SPREADSHEET
    if names & set(FILES) and "accounts.csv" not in names:
        return Source.CANONICAL
    if "accounts.csv" in names or (
        "transfers.csv" in names and b"payer.code" in _first_line(files, "transfers.csv")
    ):
        return Source.KOMUNITIN
    if names & {"users.csv", "transfers.csv", "posts.csv"}:
        return Source.TIMEOVERFLOW
    if len(files) == 1 and next(iter(names)).endswith((".csv", ".txt")):
        return Source.KOMUNITIN_UPLOAD
    raise ImportError_(
        _(
            "These files are not in a format we know: upload a ZIP with members.csv and "
            "exchanges.csv, the spreadsheet template, TimeOverflow's users.csv and "
            "transfers.csv, or Komunitin's accounts.csv and transfers.csv."
        )
    )


def _first_line(files: dict[str, bytes], name: str) -> bytes:
    for key, data in files.items():
        if key.lower() == name:
            return data.split(b"\n", 1)[0]
    return b""


def _file(files: dict[str, bytes], name: str) -> tuple[str, bytes] | None:
    for key, data in files.items():
        if key.lower() == name:
            return key, data
    return None


def read(files: dict[str, bytes], source: str) -> Bundle:
    """The canonical rows of an upload in the format ``source``."""
    readers = {
        Source.CANONICAL: read_canonical,
        Source.SPREADSHEET: read_spreadsheet,
        Source.TIMEOVERFLOW: read_timeoverflow,
        Source.KOMUNITIN: read_komunitin,
        Source.KOMUNITIN_UPLOAD: read_komunitin_upload,
    }
    return readers[Source(source)](files)


# --- The canonical format -------------------------------------------------------------------


def read_canonical(files: dict[str, bytes]) -> Bundle:
    bundle = Bundle(source=Source.CANONICAL)
    for name, data in sorted(files.items()):
        canonical = name.lower()
        if canonical in COLUMNS:
            read_csv_with_header(bundle, canonical, name, data)
        else:
            bundle.warnings.append(
                Problem(name, None, None, _("Not one of the import's files: left out."))
            )
    if not any(bundle.rows.values()) and not bundle.problems:
        bundle.problems.append(
            Problem(
                "upload",
                None,
                None,
                _("No rows to import: the files hold headers only, or are empty."),
            )
        )
    return bundle


# --- The spreadsheet template ---------------------------------------------------------------

# Sheet -> (canonical file, its columns in the template, one example row, notes per column).
# Hours columns are in hours here (decimal or h:mm), as people write them.
TEMPLATE: dict[str, tuple[str, list[str], list[Any], list[str]]] = {
    "Members": (
        "members.csv",
        [
            "external_id",
            "display_name",
            "email",
            "phone",
            "postcode",
            "joined_on",
            "status",
            "role",
            "account_type",
            "declared_balance",
            "notes_for_broker",
        ],
        [
            "EXAMPLE-1",
            "Jo Bloggs",
            "jo@example.org",
            "01632 960000",
            "GL50 1AA",
            date(2021, 3, 5),
            "active",
            "member",
            "person",
            "2:30",
            "Prefers phone calls",
        ],
        [
            "Your own number or code for the member: keep it the same in every sheet.",
            "The name other members see.",
            "Leave empty for members without email: they become offline members, and you "
            "record for them. Members with an email are invited to set a password.",
            "Optional.",
            "We keep the first half only (GL50), never the full postcode.",
            "The date they joined (05/03/2021 or 2021-03-05).",
            "active, applicant, paused or left.",
            "member, broker, admin or commissioner.",
            "person or organisation.",
            "Their balance in hours today (2.5 or 2:30; negative if they owe). We check it "
            "against their exchanges and opening balance; leave empty to skip the check.",
            "Seen by brokers only.",
        ],
    ),
    "Exchanges": (
        "exchanges.csv",
        [
            "external_id",
            "service_date",
            "provider_external_id",
            "recipient_external_id",
            "hours",
            "description",
            "category",
            "kind",
        ],
        [
            "EXAMPLE-1",
            date(2024, 3, 5),
            "EXAMPLE-1",
            "EXAMPLE-2",
            1.5,
            "Gardening",
            "gardening",
            "service",
        ],
        [
            "Your own number for the exchange.",
            "When the help happened.",
            "Who helped (earns the hours): their external_id from Members.",
            "Who was helped (spends the hours).",
            "How long: 1.5 or 1:30.",
            "What the help was, in a few words.",
            "Optional: gardening, lifts-and-transport, shopping-and-errands... (others go under Other).",
            "service (the usual), donation, grant (recipient #pot) or group.",
        ],
    ),
    "Opening balances": (
        "opening_balances.csv",
        ["member_external_id", "balance", "as_of_date"],
        ["EXAMPLE-1", "-1:15", date(2024, 12, 31)],
        [
            "The member's external_id.",
            "Their balance brought forward, in hours (negative if they owe). Use this instead "
            "of listing every past exchange.",
            "The date of that balance: exchanges listed after it are added to it.",
        ],
    ),
    "Offers": (
        "offers.csv",
        [
            "external_id",
            "member_external_id",
            "kind",
            "title",
            "description",
            "category",
            "expires_on",
        ],
        [
            "EXAMPLE-1",
            "EXAMPLE-1",
            "offer",
            "Help with your garden",
            "Weekends",
            "gardening",
            date(2025, 6, 30),
        ],
        [
            "Your own number for the offer or request.",
            "Whose it is.",
            "offer or request.",
            "A short title.",
            "More about it (optional).",
            "As for exchanges.",
            "Shown until this date (optional).",
        ],
    ),
}
EXAMPLE = re.compile(r"example-\d+", re.IGNORECASE)


def template_workbook() -> bytes:
    """The spreadsheet a small bank fills in: a sheet per file with an example row (skipped
    on import), and a "Read me" sheet with what goes in each column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    # A new workbook comes with one empty sheet: the notes go on it.
    notes = book.worksheets[0]
    notes.title = "Read me"
    notes.append(["How to fill in this spreadsheet"])
    notes["A1"].font = Font(bold=True, size=14)
    for text in (
        "Fill in one sheet per kind of record; leave a sheet empty if you have nothing for it.",
        "Row 2 of each sheet is an example (its external_id starts EXAMPLE-): it is never "
        "imported, so you may leave it or delete it.",
        "Dates: 05/03/2024 or 2024-03-05 (day first). Hours: 1.5 or 1:30.",
        "Do not type formulas: the import takes values only.",
        "Upload the file on the import page: nothing is written until you have seen the "
        "check and confirmed it.",
        "",
    ):
        notes.append([text])
    for sheet_name, (_file, columns, example, column_notes) in TEMPLATE.items():
        notes.append([sheet_name])
        notes.cell(notes.max_row, 1).font = Font(bold=True)
        for column, note in zip(columns, column_notes, strict=True):
            notes.append([column, note])
        notes.append([])
        sheet = book.create_sheet(sheet_name)
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.append(example)
        for cell in sheet[2]:
            cell.font = Font(italic=True, color="666666")
            if isinstance(cell.value, date):
                cell.number_format = "dd/mm/yyyy"
        for i, column in enumerate(columns):
            sheet.column_dimensions[chr(ord("A") + i)].width = max(14, len(column) + 4)
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["B"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_spreadsheet(files: dict[str, bytes]) -> Bundle:
    """The template's sheets (any order; a sheet with another name is a warning), cell by
    cell: dates, times and numbers as their text; formulas refused."""
    from openpyxl import load_workbook

    bundle = Bundle(source=Source.SPREADSHEET)
    name, data = next(iter(files.items()))
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds for a file that is not XLSX
        raise ImportError_(
            _("%(name)s cannot be opened as a spreadsheet (XLSX): %(error)s.")
            % {"name": name, "error": error}
        ) from None
    sheets = {title: canonical for title, (canonical, *_) in TEMPLATE.items()}
    for sheet in book.worksheets:
        canonical = sheets.get(sheet.title.strip())
        if canonical is None:
            if sheet.title != "Read me":
                bundle.warnings.append(
                    Problem(
                        sheet.title, None, None, _("Not one of the template's sheets: left out.")
                    )
                )
            continue
        rows = list(sheet.iter_rows(values_only=True))
        if not rows:
            continue
        header = [str(c).strip().lower() if c is not None else "" for c in rows[0]]
        hours = {
            "declared_balance": "declared_balance_minutes",
            "hours": "minutes",
            "balance": "balance_minutes",
        }
        names = [hours.get(h, h) for h in header]
        if any(h in hours for h in header):
            bundle.in_hours.add(canonical)
        known = set(COLUMNS[canonical])
        letters = {n: f"{_letter(i)} ({header[i]})" for i, n in enumerate(names) if n}
        for n in names:
            if n and n not in known:
                bundle.warnings.append(
                    Problem(
                        sheet.title, 1, letters[n], _("Unknown column, left out of the import.")
                    )
                )
        for number, cells in enumerate(rows[1:], start=2):
            values = {
                n: _cell_text(cell)
                for n, cell in zip(names, cells, strict=False)
                if n in known and cell is not None and _cell_text(cell) != ""
            }
            if not values:
                continue
            first = values.get("external_id") or values.get("member_external_id", "")
            if EXAMPLE.fullmatch(first.strip()):
                bundle.skipped.append(
                    Problem(sheet.title, number, None, _("The template's example row."))
                )
                continue
            row = Row(canonical, sheet.title, number, values, letters)
            if check_cells(row, bundle.problems):
                bundle.rows[canonical].append(row)
    book.close()
    if not any(bundle.rows.values()) and not bundle.problems:
        bundle.problems.append(
            Problem(name, None, None, _("No rows to import: every sheet is empty."))
        )
    return bundle


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text the canonical format expects."""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return f"{value.hour}:{value.minute:02d}"
    if isinstance(value, timedelta):
        minutes = round(value.total_seconds() / 60)
        return f"{minutes // 60}:{minutes % 60:02d}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value).strip()


# --- TimeOverflow ----------------------------------------------------------------------------


def _positional(
    bundle: Bundle, name: str, data: bytes, header_words: set[str]
) -> list[tuple[int, list[str]]]:
    """A headerless CSV's records (TimeOverflow's importers read with ``headers: false``); a
    first row that is plainly a header is skipped, with a warning."""
    text = decode(name, data, bundle.problems, header=False)
    if text is None:
        return []
    records = csv_records(name, text, bundle.problems)
    if records and records[0][1] and records[0][1][0].strip().lower() in header_words:
        bundle.warnings.append(
            Problem(
                name,
                records[0][0],
                None,
                _("A header row: TimeOverflow's files have none; skipped."),
            )
        )
        records = records[1:]
    return records


def _content_id(prefix: str, parts: list[str], seen: Counter[str]) -> str:
    """An external id for a row that has none (TimeOverflow's transfers and posts, Komunitin's
    upload): a digest of what it says, numbered when the same row appears again, so importing
    the same file twice finds each row again."""
    digest = hashlib.sha256("\x1f".join(p.strip() for p in parts).encode()).hexdigest()[:16]
    seen[digest] += 1
    return f"{prefix}-{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else "")


# TimeOverflow's gender codes 1-4 index User::GENDERS = %w(female male others
# prefer_not_to_answer) (app/models/user.rb; the importer takes data_row[5].to_i - 1).
TIMEOVERFLOW_GENDERS = {"1": "woman", "2": "man", "3": "another_way", "4": "prefer_not_to_say"}


def read_timeoverflow(files: dict[str, bytes]) -> Bundle:
    """TimeOverflow's three admin importers' files: positional, no header (PR #723, v4.5.0).

    users.csv -- coopdevs/timeoverflow ``app/services/user_importer.rb``: 0 member_uid,
      1 entry_date, 2-4 name parts (joined with spaces into the username), 5 gender code
      1-4, 6 date_of_birth, 7 phone, 8 alt_phone, 9 email. Passwords are never in it.
    transfers.csv -- ``app/services/transfer_importer.rb`` (commit 60416f5a): 0 source_id
      (a member_uid; ignored when the source is the organisation), 1 source_type
      ("organization" or a member), 2 destination_id, 3 destination_type, 4 amount in
      seconds, 5 created_at, 6 reason, 7 post_id. The earlier importer (commit 16c3573c) had
      no created_at: 7 columns, reason at 5 and post_id at 6; both are read.
      Time moves from the source to the destination, so the destination is the provider.
      The organisation's account is the bank's own: here, the community pot.
    posts.csv -- ``app/services/post_importer.rb``: 0 user_id, 1 type ("Offer"/"Inquiry"),
      2 title, 3 description, 4 category_id, 5 created_at, 6 start_on, 7 end_on. TimeOverflow
      takes its database user id in column 0, which users.csv does not carry: here column 0
      is the member's member_uid, as in users.csv.
    """
    bundle = Bundle(source=Source.TIMEOVERFLOW, derived_ids=True)
    found = False
    if users := _file(files, "users.csv"):
        found = True
        name, data = users
        for line, record in _positional(bundle, name, data, {"member_uid", "member_id"}):
            cells = [c.strip() for c in record]
            if len(cells) > 10:
                bundle.problems.append(
                    Problem(
                        name,
                        line,
                        None,
                        _("A users row has at most 10 columns; this has %s.") % len(cells),
                    )
                )
                continue
            cells += [""] * (10 - len(cells))
            gender = cells[5]
            values = {
                "external_id": cells[0],
                "member_number": cells[0],
                "joined_on": cells[1],
                "display_name": " ".join(p for p in cells[2:5] if p),
                "gender": TIMEOVERFLOW_GENDERS.get(gender, gender),
                "date_of_birth": cells[6],
                "phone": cells[7],
                "alt_phone": cells[8],
                "email": cells[9],
                "status": "active",
                "account_type": "person",
            }
            columns = {
                "external_id": "1 (member_uid)",
                "member_number": "1 (member_uid)",
                "joined_on": "2 (entry_date)",
                "display_name": "3-5 (name)",
                "gender": "6 (gender)",
                "date_of_birth": "7 (date_of_birth)",
                "phone": "8 (phone)",
                "alt_phone": "9 (alt_phone)",
                "email": "10 (email)",
            }
            _add(bundle, "members.csv", name, line, values, columns)
    if transfers := _file(files, "transfers.csv"):
        found = True
        name, data = transfers
        seen: Counter[str] = Counter()
        warned_posts = False
        for line, record in _positional(bundle, name, data, {"source_id"}):
            cells = [c.strip() for c in record]
            if len(cells) not in (7, 8):
                bundle.problems.append(
                    Problem(
                        name,
                        line,
                        None,
                        _("A transfers row has 8 columns (7 in older TimeOverflow); this has %s.")
                        % len(cells),
                    )
                )
                continue
            if len(cells) == 7:
                source, source_type, destination, destination_type, amount, reason, post = cells
                created = ""
                at = {"reason": "6 (reason)"}
            else:
                (
                    source,
                    source_type,
                    destination,
                    destination_type,
                    amount,
                    created,
                    reason,
                    post,
                ) = cells
                at = {
                    "recorded_at": "6 (created_at)",
                    "service_date": "6 (created_at)",
                    "reason": "7 (reason)",
                }
            if post and not warned_posts:
                warned_posts = True
                bundle.warnings.append(
                    Problem(
                        name,
                        line,
                        "8 (post_id)",
                        _("Links to posts are not kept: posts.csv carries no post ids."),
                    )
                )
            from_pot = source_type.lower() == "organization"
            to_pot = destination_type.lower() == "organization"
            minutes = ""
            if re.fullmatch(r"-?\d+", amount):
                seconds = int(amount)
                if seconds % 60:
                    bundle.problems.append(
                        Problem(
                            name,
                            line,
                            "5 (amount)",
                            _("%(s)s seconds is not a whole number of minutes.") % {"s": amount},
                        )
                    )
                    continue
                minutes = str(seconds // 60)
            else:
                minutes = amount  # reported by the checker as not a number
            kind = (
                "grant"
                if from_pot and not to_pot
                else "donation"
                if to_pot and not from_pot
                else "service"
            )
            moment = created or timezone.now().isoformat()
            values = {
                "external_id": _content_id("to", cells, seen),
                "service_date": moment,
                "recorded_at": moment,
                "provider_external_id": POT if to_pot else destination,
                "recipient_external_id": POT if from_pot else source,
                "minutes": minutes,
                "description": reason or _("(no description)"),
                "kind": kind,
            }
            columns = {
                "provider_external_id": "3 (destination_id)",
                "recipient_external_id": "1 (source_id)",
                "minutes": "5 (amount)",
                "description": at["reason"],
                "kind": "2/4 (source_type, destination_type)",
                **{k: v for k, v in at.items() if k != "reason"},
            }
            if from_pot and to_pot:
                bundle.problems.append(
                    Problem(
                        name,
                        line,
                        "2 (source_type)",
                        _("A transfer from the organisation to itself."),
                    )
                )
                continue
            if not created:
                bundle.warnings.append(
                    Problem(name, line, None, _("No date (7-column file): dated today."))
                )
            _add(bundle, "exchanges.csv", name, line, values, columns)
    if posts := _file(files, "posts.csv"):
        found = True
        name, data = posts
        seen = Counter()
        for line, record in _positional(bundle, name, data, {"user_id"}):
            cells = [c.strip() for c in record]
            if len(cells) > 8 or len(cells) < 3:
                bundle.problems.append(
                    Problem(
                        name, line, None, _("A posts row has 8 columns; this has %s.") % len(cells)
                    )
                )
                continue
            cells += [""] * (8 - len(cells))
            kinds = {"offer": "offer", "inquiry": "request"}
            values = {
                "external_id": _content_id("to-post", cells, seen),
                "member_external_id": cells[0],
                "kind": kinds.get(cells[1].lower(), cells[1]),
                "title": cells[2],
                "description": cells[3],
                "created_at": cells[5],
                "expires_on": cells[7],
            }
            if cells[4]:
                bundle.warnings.append(
                    Problem(
                        name,
                        line,
                        "5 (category_id)",
                        _("TimeOverflow's category numbers mean nothing here: under Other."),
                    )
                )
            columns = {
                "member_external_id": "1 (user_id)",
                "kind": "2 (type)",
                "title": "3 (title)",
                "description": "4 (description)",
                "created_at": "6 (created_at)",
                "expires_on": "8 (end_on)",
            }
            _add(bundle, "offers.csv", name, line, values, columns)
    if not found:
        bundle.problems.append(
            Problem(
                "upload", None, None, _("No users.csv, transfers.csv or posts.csv in the upload.")
            )
        )
    return bundle


def _add(
    bundle: Bundle,
    canonical: str,
    source: str,
    line: int,
    values: dict[str, str],
    columns: dict[str, str],
) -> None:
    row = Row(canonical, source, line, {k: v for k, v in values.items() if v != ""}, columns)
    if check_cells(row, bundle.problems):
        bundle.rows[canonical].append(row)


# --- Komunitin -------------------------------------------------------------------------------

# Komunitin's account states (accounting/src/model/account.ts) as membership statuses.
KOMUNITIN_ACCOUNT_STATUS = {
    "active": "active",
    "disabled": "paused",
    "suspended": "paused",
    "deleted": "left",
}
# Its transfer states (accounting/src/model/transfer.ts): only committed ones moved hours.
KOMUNITIN_TRANSFER_STATE = {
    "committed": "completed",
    "submitted": "pending",
    "pending": "pending",
    "accepted": "pending",
}


def read_komunitin(files: dict[str, bytes]) -> Bundle:
    """Komunitin's admin exports, with a header row each (community-exchange-network/komunitin
    ``accounting/src/server/csv-mappers.ts``):

    accounts.csv -- id, created, updated, code, status, balance, creditLimit, maximumBalance,
      key, user.id. The code (``NET20002``) is the member's external id; names and emails
      live in Komunitin's social API, not here: put a members.csv beside it (external_id =
      the account code) to give them, or members are named by their code and have no email.
      ``balance`` is checked against the history. The ``<CODE>MIGRA`` account of an earlier
      migration (``accounting/src/migration/migration.ts``) is not a member: its transfers
      are opening balances.
    transfers.csv -- id, created, updated, state, amount, description, hash, authorization,
      payer.id, payer.code, payee.id, payee.code, user.id. The payer spends, the payee earns.
      Amounts are in the currency's unit, taken here as hours.
    """
    bundle = Bundle(source=Source.KOMUNITIN)
    bundle.in_hours.update({"members.csv", "exchanges.csv", "opening_balances.csv"})
    names: dict[str, Row] = {}
    if members := _file(files, "members.csv"):
        # Names and emails for the accounts, in the canonical layout.
        extra = Bundle(source=Source.CANONICAL)
        read_csv_with_header(extra, "members.csv", members[0], members[1])
        bundle.problems += extra.problems
        bundle.warnings += extra.warnings
        names = {row.get("external_id").upper(): row for row in extra.rows["members.csv"]}
    migration_codes: set[str] = set()
    if accounts := _file(files, "accounts.csv"):
        name, data = accounts
        for line, values, columns in _with_header(bundle, name, data, {"code"}):
            code = values.get("code", "").strip().upper()
            if code.endswith("MIGRA"):
                migration_codes.add(code)
                continue
            status = values.get("status", "active").strip().lower()
            row_values = {
                "external_id": code,
                "member_number": code,
                "display_name": code,
                "joined_on": values.get("created", ""),
                "status": KOMUNITIN_ACCOUNT_STATUS.get(status, status),
                "account_type": "person",
                "declared_balance_minutes": values.get("balance", ""),
            }
            row_columns = {
                "external_id": columns["code"],
                "display_name": columns["code"],
                "joined_on": columns.get("created", "created"),
                "status": columns.get("status", "status"),
                "declared_balance_minutes": columns.get("balance", "balance"),
            }
            given = names.pop(code, None)
            if given is not None:
                row_values.update({k: v for k, v in given.values.items() if k != "external_id"})
            _add(bundle, "members.csv", name, line, row_values, row_columns)
        for code, row in names.items():
            bundle.warnings.append(
                row.problem(
                    "external_id",
                    _("No account %(code)s in accounts.csv: left out.") % {"code": code},
                )
            )
    if transfers := _file(files, "transfers.csv"):
        name, data = transfers
        openings: dict[str, list[Any]] = {}
        for line, values, columns in _with_header(
            bundle, name, data, {"payer.code", "payee.code", "amount"}
        ):
            state = values.get("state", "committed").strip().lower()
            payer = values.get("payer.code", "").strip().upper()
            payee = values.get("payee.code", "").strip().upper()
            if state not in KOMUNITIN_TRANSFER_STATE:
                bundle.skipped.append(
                    Problem(
                        name,
                        line,
                        columns.get("state"),
                        _("A %(state)s transfer moved no hours.") % {"state": state},
                    )
                )
                continue
            if payer in migration_codes or payee in migration_codes:
                # An opening balance from an earlier migration: the other side's, summed.
                member = payee if payer in migration_codes else payer
                sign = "" if payer in migration_codes else "-"
                entry = openings.setdefault(member, [line, [], values.get("created", "")])
                entry[1].append(sign + values.get("amount", "").strip())
                continue
            moment = values.get("created", "")
            row_values = {
                "external_id": values.get("id", ""),
                "service_date": moment,
                "recorded_at": moment,
                "provider_external_id": payee,
                "recipient_external_id": payer,
                "minutes": values.get("amount", ""),
                "description": values.get("description", "") or _("(no description)"),
                "state": KOMUNITIN_TRANSFER_STATE[state],
            }
            row_columns = {
                "external_id": columns.get("id", "id"),
                "service_date": columns.get("created", "created"),
                "recorded_at": columns.get("created", "created"),
                "provider_external_id": columns["payee.code"],
                "recipient_external_id": columns["payer.code"],
                "minutes": columns["amount"],
                "description": columns.get("description", "description"),
                "state": columns.get("state", "state"),
            }
            _add(bundle, "exchanges.csv", name, line, row_values, row_columns)
        for member, (line, amounts, created) in openings.items():
            total = _sum_hours(amounts)
            _add(
                bundle,
                "opening_balances.csv",
                name,
                line,
                {"member_external_id": member, "balance_minutes": total, "as_of_date": created},
                {"member_external_id": "payer.code/payee.code", "balance_minutes": "amount"},
            )
    if not accounts and not transfers:
        bundle.problems.append(
            Problem("upload", None, None, _("No accounts.csv or transfers.csv in the upload."))
        )
    return bundle


def _sum_hours(amounts: list[str]) -> str:
    """Komunitin amounts (decimal hours, signed) added up exactly; the checker reports any
    that is not a number."""
    total = Decimal(0)
    for amount in amounts:
        try:
            total += Decimal(amount.replace("--", ""))
        except ArithmeticError:
            return amount
    return format(total.normalize(), "f") if total else "0"


def _with_header(
    bundle: Bundle, name: str, data: bytes, required: set[str]
) -> list[tuple[int, dict[str, str], dict[str, str]]]:
    """A CSV file with a header row: each row as {column: value} with the line it starts on."""
    text = decode(name, data, bundle.problems)
    if text is None:
        return []
    records = csv_records(name, text, bundle.problems)
    if not records:
        return []
    header = [h.strip() for h in records[0][1]]
    lowered = [h.lower() for h in header]
    for column in sorted(required - set(lowered)):
        bundle.problems.append(
            Problem(
                name, 1, column, _("The header has no “%(column)s” column.") % {"column": column}
            )
        )
    if required - set(lowered):
        return []
    columns = {h: h for h in lowered}
    rows = []
    for line, record in records[1:]:
        if len(record) != len(header):
            bundle.problems.append(
                Problem(
                    name,
                    line,
                    None,
                    _("This row has %(cells)s cells but the header names %(columns)s.")
                    % {"cells": len(record), "columns": len(header)},
                )
            )
            continue
        rows.append((line, dict(zip(lowered, record, strict=True)), columns))
    return rows


def read_komunitin_upload(files: dict[str, bytes]) -> Bundle:
    """Komunitin's bulk transfer upload (community-exchange-network/komunitin
    ``app/src/pages/transactions/CreateTransactionLoadFileBtn.vue``; help text
    ``importFileText`` in ``app/src/i18n/en-us/index.json``): exactly 4 columns, From (the
    payer's account code), To (the payee's), Description, Amount (in the currency's unit, here
    hours), no symbol. The first row is dropped when its last cell is not a number (a header).
    The transfers have no date: they are dated today, as Komunitin would record them.
    Account codes are matched after trimming and upper-casing.
    """
    bundle = Bundle(source=Source.KOMUNITIN_UPLOAD, derived_ids=True)
    bundle.in_hours.add("exchanges.csv")
    name, data = next(iter(files.items()))
    text = decode(name, data, bundle.problems, header=False)
    if text is None:
        return bundle
    records = csv_records(name, text, bundle.problems)
    if records and not re.fullmatch(r"[+-]?\d+(\.\d+)?", records[0][1][-1].strip()):
        records = records[1:]
    seen: Counter[str] = Counter()
    now = timezone.localtime()
    columns = {
        "recipient_external_id": "1 (From)",
        "provider_external_id": "2 (To)",
        "description": "3 (Description)",
        "minutes": "4 (Amount)",
    }
    for line, record in records:
        if len(record) != 4:
            bundle.problems.append(
                Problem(
                    name,
                    line,
                    None,
                    _("Each row has exactly 4 columns: From, To, Description, Amount; this has %s.")
                    % len(record),
                )
            )
            continue
        payer, payee, description, amount = (c.strip() for c in record)
        values = {
            "external_id": _content_id("kmu", [payer, payee, description, amount], seen),
            "service_date": now.date().isoformat(),
            "recorded_at": now.isoformat(),
            "recipient_external_id": payer.upper(),
            "provider_external_id": payee.upper(),
            "description": description,
            "minutes": amount,
        }
        _add(bundle, "exchanges.csv", name, line, values, columns)
    if not bundle.rows["exchanges.csv"] and not bundle.problems:
        bundle.problems.append(Problem(name, None, None, _("The file holds no transfers.")))
    return bundle
