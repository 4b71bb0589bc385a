"""The canonical import format, and reading files into rows a person can be told about.

The canonical format is a ZIP (or a folder) of UTF-8 CSV files with a header row, after the
research's proposal (``/work/shared/research/turn2_peers.md`` §3.5), with a few columns more
so that everything this platform holds about a bank comes back in (see ``COLUMNS``):

- ``members.csv``: people and organisations, one ``external_id`` each.
- ``exchanges.csv``: the full history. A group exchange is several rows with the same
  ``external_id`` and ``kind`` ``group``, one per person taking part.
- ``opening_balances.csv``: balances brought forward, instead of (or on top of) history.
- ``offers.csv``: offers and requests.

Hours: a column named ``minutes`` or ending ``_minutes`` holds whole minutes (``90``); any
other hours column holds hours, as a decimal (``1.5``) or as ``h:mm`` (``1:30``).
Dates: ``2024-03-05`` (ISO), or day first as written in the UK: ``05/03/2024``, ``5/3/2024``,
``05-03-2024``, ``05.03.2024``, ``5 Mar 2024``, ``5 March 2024``. Never month first.
Times (``recorded_at``, ``created_at``): ISO 8601 (``2024-03-05T14:30:00+00:00``; without an
offset, UK time), or a date as above followed by ``14:30``.

Every row keeps where it came from (file, line, column as that file names it), so each
problem can say exactly where to look.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

# The columns of each file, in the order the export writes them. The first line of a file
# names its columns, in any order; the ``REQUIRED`` ones must be there.
COLUMNS: dict[str, tuple[str, ...]] = {
    "members.csv": (
        # As proposed in the research (§3.5)...
        "external_id",
        "member_number",
        "given_name",
        "family_name",
        "display_name",
        "email",
        "phone",
        "alt_phone",
        "postcode",
        "date_of_birth",
        "gender",
        "joined_on",
        "status",
        "account_type",
        "sub_area",
        "notes_for_broker",
        # ...and what this platform keeps besides.
        "role",
        "left_on",
        "age_band",
        "disability",
        "carer",
        "bio",
        "organisation_kind",
        "representatives",
        "declared_balance_minutes",
    ),
    "exchanges.csv": (
        "external_id",
        "service_date",
        "recorded_at",
        "provider_external_id",
        "recipient_external_id",
        "minutes",
        "category",
        "description",
        "offer_external_id",
        "recorded_by_external_id",
        "state",
        "kind",
        "coproduction",
    ),
    "opening_balances.csv": ("member_external_id", "balance_minutes", "as_of_date"),
    "offers.csv": (
        "external_id",
        "member_external_id",
        "kind",
        "title",
        "description",
        "category",
        "created_at",
        "expires_on",
        "state",
        "area",
        "availability",
    ),
}
# Hours columns that may be given in hours instead, under the name without "_minutes".
HOURS_COLUMNS = {
    "members.csv": "declared_balance_minutes",
    "exchanges.csv": "minutes",
    "opening_balances.csv": "balance_minutes",
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "members.csv": ("external_id",),
    "exchanges.csv": (
        "external_id",
        "service_date",
        "provider_external_id",
        "recipient_external_id",
    ),
    "opening_balances.csv": ("member_external_id", "as_of_date"),
    "offers.csv": ("external_id", "member_external_id", "kind", "title"),
}
FILES = tuple(COLUMNS)
# The community pot, wherever a file names a member (donations, grants, group remainders).
POT = "#pot"
# Uploads larger than this (the ZIP, or the files inside it added up) are refused.
MAX_BYTES = 200 * 1024 * 1024
# A cell longer than this is no field of a time bank's records.
MAX_CELL = 10_000


@dataclass(slots=True)
class Problem:
    """Something wrong (or worth knowing) about one place in the files."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(_("line %(line)s") % {"line": self.line})
        if self.column:
            where.append(_("column %(column)s") % {"column": self.column})
        return f"{', '.join(where)}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass(slots=True)
class Row:
    """One row of a canonical file, with where it came from: ``source`` (the file as its
    owner knows it), ``line`` there, and how that file names each column."""

    file: str
    source: str
    line: int
    values: dict[str, str]
    columns: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    def problem(self, name: str | None, message: str) -> Problem:
        return Problem(self.source, self.line, self.column(name) if name else None, message)


@dataclass
class Bundle:
    """Canonical rows from whatever was uploaded, and what reading them found."""

    source: str
    rows: dict[str, list[Row]] = field(default_factory=lambda: {name: [] for name in FILES})
    # The minutes columns given in hours instead (``HOURS_COLUMNS`` names them), per file.
    in_hours: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    # Exchange ids made from the rows' content (the file had none): an id already imported is
    # the same row again, whatever else (a date of today) the reader filled in.
    derived_ids: bool = False


class ImportError_(Exception):
    """The upload cannot be read at all (not a ZIP, too large, no known file): one sentence."""


# --- Reading files --------------------------------------------------------------------------


def read_upload(
    path: Path | str | None = None, *, data: bytes | None = None, name: str = ""
) -> dict[str, bytes]:
    """The files of an upload, by base name: a ZIP, a folder, or a single file. Raises
    ``ImportError_`` with one plain sentence when it is none of those or too large."""
    if path is not None:
        path = Path(path)
        if path.is_dir():
            files = {}
            total = 0
            for child in sorted(path.iterdir()):
                if child.is_file() and not child.name.startswith("."):
                    total += child.stat().st_size
                    if total > MAX_BYTES:
                        raise ImportError_(_("The folder is larger than 200 MB."))
                    files[child.name] = child.read_bytes()
            return files
        if not path.exists():
            raise ImportError_(_("There is no file or folder at %(path)s.") % {"path": path})
        if path.stat().st_size > MAX_BYTES:
            raise ImportError_(_("The file is larger than 200 MB."))
        data, name = path.read_bytes(), path.name
    assert data is not None
    if len(data) > MAX_BYTES:
        raise ImportError_(_("The file is larger than 200 MB."))
    if data[:4] == b"PK\x03\x04" and not name.lower().endswith(".xlsx"):
        return _unzip(data)
    return {Path(name).name or "upload.csv": data}


def _unzip(data: bytes) -> dict[str, bytes]:
    """The files in a ZIP, by base name (folders inside it flattened; nothing written to disk,
    so a name like ``../x`` reaches nothing). Refuses archives that unpack to over 200 MB."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportError_(_("The ZIP file is damaged: %(error)s.") % {"error": error}) from None
    if sum(m.file_size for m in members) > MAX_BYTES:
        raise ImportError_(_("The ZIP file unpacks to more than 200 MB."))
    files = {}
    for member in members:
        base = Path(member.filename).name
        if not base or base.startswith(".") or member.filename.startswith("__MACOSX"):
            continue
        try:
            files[base] = archive.read(member)
        except (zipfile.BadZipFile, OSError, RuntimeError) as error:
            raise ImportError_(
                _("%(name)s in the ZIP file cannot be read: %(error)s.")
                % {"name": base, "error": error}
            ) from None
    return files


def decode(name: str, data: bytes, problems: list[Problem], *, header: bool = True) -> str | None:
    """``data`` as text, or None with a problem naming the line and column of the first byte
    that is not UTF-8 (the column as the header names it, or its position)."""
    if b"\x00" in data[:4096]:
        problems.append(
            Problem(name, None, None, _("This is not a CSV text file (it holds binary data)."))
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        start = data.rfind(b"\n", 0, error.start) + 1
        before = data[start : error.start].decode("utf-8", "replace")
        index = len(next(csv.reader([before]))) - 1 if before else 0
        column = str(index + 1)
        if header and line > 1:
            names = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8-sig", "replace")]), [])
            if index < len(names):
                column = names[index].strip()
        problems.append(
            Problem(
                name,
                line,
                column,
                _(
                    "The file is not UTF-8 (byte 0x%(byte)02X here). Save it again as "
                    "“CSV UTF-8” from your spreadsheet and upload it again."
                )
                % {"byte": data[error.start]},
            )
        )
        return None


def csv_records(name: str, text: str, problems: list[Problem]) -> list[tuple[int, list[str]]]:
    """Every non-empty record of a CSV text with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    start = 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as error:
        problems.append(
            Problem(name, reader.line_num, None, _("This line cannot be read as CSV: %s.") % error)
        )
    return records


def read_csv_with_header(
    bundle: Bundle,
    canonical: str,
    source: str,
    data: bytes,
    *,
    rename: dict[str, str] | None = None,
) -> None:
    """Read a canonical CSV file (a header row, then data) into ``bundle``: unknown columns
    are a warning, missing required ones a problem, a row with more cells than the header a
    problem."""
    text = decode(source, data, bundle.problems)
    if text is None:
        return
    records = csv_records(source, text, bundle.problems)
    if not records:
        bundle.warnings.append(Problem(source, None, None, _("The file is empty.")))
        return
    header = records[0][1]
    names = [(rename or {}).get(h.strip().lower(), h.strip().lower()) for h in header]
    known = set(COLUMNS[canonical])
    hours = HOURS_COLUMNS.get(canonical)
    if hours and hours not in names and hours.removesuffix("_minutes") in names:
        # The same column in hours: "hours" for "minutes", "balance" for "balance_minutes".
        names = [hours if n == hours.removesuffix("_minutes") else n for n in names]
        bundle.in_hours.add(canonical)
    elif hours == "minutes" and "minutes" not in names and "hours" in names:
        names = ["minutes" if n == "hours" else n for n in names]
        bundle.in_hours.add(canonical)
    for i, n in enumerate(names):
        if n and n not in known:
            bundle.warnings.append(
                Problem(source, 1, header[i], _("Unknown column, left out of the import."))
            )
    duplicates = {n for n in names if n and names.count(n) > 1}
    for n in sorted(duplicates):
        bundle.problems.append(Problem(source, 1, n, _("This column appears twice.")))
    for required in REQUIRED[canonical]:
        if required not in names:
            bundle.problems.append(
                Problem(
                    source,
                    1,
                    required,
                    _("The header has no “%(column)s” column, which every row needs.")
                    % {"column": required},
                )
            )
    if canonical == "members.csv" and not {"display_name", "given_name", "family_name"} & set(
        names
    ):
        bundle.problems.append(
            Problem(source, 1, "display_name", _("The header needs a display_name column."))
        )
    columns = {n: header[i].strip() or n for i, n in enumerate(names)}
    for line, record in records[1:]:
        if len(record) > len(names) and any(c.strip() for c in record[len(names) :]):
            bundle.problems.append(
                Problem(
                    source,
                    line,
                    _("cell %(n)s") % {"n": len(names) + 1},
                    _("This row has %(cells)s cells but the header names %(columns)s columns.")
                    % {"cells": len(record), "columns": len(names)},
                )
            )
            continue
        values = {
            n: cell for n, cell in zip(names, record, strict=False) if n in known and cell != ""
        }
        row = Row(canonical, source, line, values, columns)
        if check_cells(row, bundle.problems):
            bundle.rows[canonical].append(row)


def check_cells(row: Row, problems: list[Problem]) -> bool:
    """Clean every cell of ``row`` in place (trimmed; a leading apostrophe that protects a
    formula-like text removed) and refuse formulas and overlong cells. False if any is bad."""
    ok = True
    for name, raw in list(row.values.items()):
        value = raw.strip()
        if len(value) > MAX_CELL:
            problems.append(row.problem(name, _("This cell is too long to be a field.")))
            ok = False
            continue
        if looks_like_formula(value):
            problems.append(
                row.problem(
                    name,
                    _(
                        "“%(start)s…” is a spreadsheet formula, not its value: type the value "
                        "itself (or start the cell with an apostrophe to keep the text)."
                    )
                    % {"start": value[:20]},
                )
            )
            ok = False
            continue
        # escape_cell's apostrophe: before a formula-like start, or before an apostrophe of
        # the text's own (which it doubles, so that one comes back too).
        if value[:1] == "'" and value[1:2] in (*FORMULA_STARTS, "'"):
            value = value[1:]
        row.values[name] = value
    return ok


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-]\d[\d.,:]*")


def looks_like_formula(value: str) -> bool:
    """A cell a spreadsheet would run, or that would run when this file is opened in one:
    starting with ``=`` or ``@``, or with ``+``/``-`` and not a signed number."""
    if not value:
        return False
    if value[0] in "=@\t\r":
        return True
    return value[0] in "+-" and not _SIGNED_NUMBER.fullmatch(value)


def escape_cell(value: str) -> str:
    """For export: a text a spreadsheet would take for a formula gets a leading apostrophe
    (OWASP's advice on CSV injection); ``check_cells`` takes it off again on import."""
    if (
        value
        and (value[0] in FORMULA_STARTS or value[0] == "'")
        and not _SIGNED_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


# --- Values ---------------------------------------------------------------------------------


class BadValue(ValueError):
    """A cell that does not hold what its column needs; ``str()`` is the message."""


_SPACED_OFFSET = re.compile(r" ([+-]\d{2}):?(\d{2})$")
_HMM = re.compile(r"(-?)(\d+):([0-5]\d)")
_UK_NUMERIC = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")
_UK_WORDS = re.compile(r"(\d{1,2})\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
DATE_FORMATS = "2024-03-05, 05/03/2024 or 5 March 2024 (day first)"


def minutes_in(value: str, *, hours: bool, signed: bool = False) -> int:
    """Whole minutes from ``value``: minutes (``90``) or, with ``hours``, decimal hours
    (``1.5``) or ``h:mm`` (``1:30``). Negative only if ``signed``."""
    text = value.strip().replace(" ", "")
    negative = False
    if text[:1] in "+-":
        negative = text[0] == "-"
        body = text[1:]
    else:
        body = text
    if hours and (match := _HMM.fullmatch(body)):
        minutes = int(match.group(2)) * 60 + int(match.group(3))
    else:
        if "," in body:
            raise BadValue(
                _("“%(value)s”: write hours with a decimal point (1.5), not a comma.")
                % {"value": value}
            )
        try:
            number = Decimal(body)
        except InvalidOperation:
            raise BadValue(
                _("“%(value)s” is not a number of %(unit)s.")
                % {"value": value, "unit": _("hours (1.5 or 1:30)") if hours else _("minutes")}
            ) from None
        if not number.is_finite():
            raise BadValue(_("“%(value)s” is not a number.") % {"value": value})
        exact = number * 60 if hours else number
        if exact != exact.to_integral_value():
            raise BadValue(_("“%(value)s” is not a whole number of minutes.") % {"value": value})
        minutes = int(exact)
    if negative:
        if not signed:
            raise BadValue(
                _("“%(value)s” is negative: hours given are always positive.") % {"value": value}
            )
        minutes = -minutes
    if abs(minutes) > 10**9:
        raise BadValue(_("“%(value)s” is far too large.") % {"value": value})
    return minutes


def parse_date(value: str) -> date:
    """A date written as ``DATE_FORMATS`` says (an ISO time after it is ignored)."""
    text = value.strip()
    try:
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text[:10])
    except ValueError:
        raise BadValue(_not_a_date(value)) from None
    if match := _UK_NUMERIC.fullmatch(text.split(" ")[0]):
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) != 4:
            raise BadValue(
                _("“%(value)s”: write the year in full (2024, not 24).") % {"value": value}
            )
        try:
            return date(year, month, day)
        except ValueError:
            if month > 12 and day <= 12:
                raise BadValue(
                    _(
                        "“%(value)s” is not a date: dates are day first, as in the UK "
                        "(%(day)02d/%(month)02d/%(year)s)."
                    )
                    % {"value": value, "day": month, "month": day, "year": year}
                ) from None
            raise BadValue(_not_a_date(value)) from None
    if match := _UK_WORDS.fullmatch(text):
        named = _MONTHS.get(match.group(2).lower())
        if named:
            try:
                return date(int(match.group(3)), named, int(match.group(1)))
            except ValueError:
                pass
    raise BadValue(_not_a_date(value))


def _not_a_date(value: str) -> str:
    return _("“%(value)s” is not a date: write it as %(formats)s.") % {
        "value": value,
        "formats": DATE_FORMATS,
    }


def parse_moment(value: str) -> datetime:
    """A moment: ISO 8601 (an offset or ``Z``, else UK time), a date and ``hh:mm``, or a date
    alone (noon that day). TimeOverflow's ``2015-01-26 10:48:04 +0100`` and ``... UTC`` too."""
    text = value.strip()
    iso = text.replace(" UTC", "+00:00").replace("Z", "+00:00")
    if " +" in iso or " -" in iso:
        iso = _SPACED_OFFSET.sub(r"\1:\2", iso)
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        parts = text.split()
        day = parse_date(parts[0] if len(parts) <= 2 and _UK_NUMERIC.fullmatch(parts[0]) else text)
        clock = time(12, 0)
        if len(parts) == 2 and _UK_NUMERIC.fullmatch(parts[0]):
            try:
                clock = time.fromisoformat(parts[1])
            except ValueError:
                raise BadValue(
                    _("“%(value)s”: write the time as 14:30.") % {"value": value}
                ) from None
        moment = datetime.combine(day, clock)
    else:
        if len(text) == 10:
            moment = datetime.combine(moment.date(), time(12, 0))
    if moment.tzinfo is None:
        # The site's own zone (UK time), read once: make_aware would look up the request's
        # zone on every one of 200,000 rows.
        moment = moment.replace(tzinfo=timezone.get_default_timezone())
    return moment
