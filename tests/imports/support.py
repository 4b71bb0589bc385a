"""Helpers for the import tests: files as bytes, ZIPs, and an import in one call."""

from __future__ import annotations

import io
import zipfile

from imports import services
from imports.checking import Plan
from members.models import Person, TimeBank


def text(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def imported(
    files: dict[str, bytes], bank: TimeBank, actor: Person | None, source: str = ""
) -> services.CommandResult:
    """Import ``files`` (checked first); fail the test with every problem if there are any."""
    result = services.import_files(
        files=files, file_name="test.zip", time_bank=bank, actor=actor, source=source
    )
    problems = [str(p) for p in result.plan.problems]
    assert not problems, "\n".join(problems)
    return result


def checked(
    files: dict[str, bytes], bank: TimeBank, actor: Person | None, source: str = ""
) -> Plan:
    return services.dry_run(files=files, time_bank=bank, actor=actor, source=source)
