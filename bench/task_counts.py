"""Page loads and form fields per core task, before and after issue 22, as measured in a real
Chromium (e2e/conftest.py ``Site.task`` after; bench/task_counts_before.py before, on main at
ba32644). Prints a table; never asserts.

    .venv/bin/python bench/task_counts.py [BEFORE.json] [AFTER.json]

Defaults: bench/history/2026-12-07-task-counts-before.json, and the browser suite's latest
e2e-artifacts/task-counts.json (else bench/history/2026-12-07-task-counts-after.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "bench" / "history"
TASKS = [
    "record",
    "confirm",
    "approve",
    "add an offline member and record for them",
    "pull the quarterly report",
]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def main(argv: list[str]) -> int:
    before_path = Path(argv[0]) if argv else HISTORY / "2026-12-07-task-counts-before.json"
    latest = ROOT / "e2e-artifacts" / "task-counts.json"
    after_path = (
        Path(argv[1])
        if len(argv) > 1
        else latest
        if latest.exists()
        else HISTORY / "2026-12-07-task-counts-after.json"
    )
    before, after = load(before_path), load(after_path)
    print(
        f"before: {before_path.relative_to(ROOT) if before_path.is_relative_to(ROOT) else before_path}"
    )
    print(
        f"after:  {after_path.relative_to(ROOT) if after_path.is_relative_to(ROOT) else after_path}"
    )
    header = f"{'task':<44} {'page loads':>16} {'form fields':>16}"
    print(header)
    print("-" * len(header))
    for task in TASKS:
        b, a = before.get(task), after.get(task)
        if b is None or a is None:
            print(f"{task:<44} {'(not measured)':>16}")
            continue
        loads = f"{b['page_loads']} -> {a['page_loads']}"
        fields = f"{b['form_fields']} -> {a['form_fields']}"
        print(f"{task:<44} {loads:>16} {fields:>16}")
        for side, counts in (("before", b), ("after", a)):
            forms = ", ".join(
                f"{f['fields']} ({f['url'].split('/banks/riverside')[-1]})" for f in counts["forms"]
            )
            if forms:
                print(f"    {side} forms: {forms}")
            for note in counts.get("notes", []):
                print(f"    {side}: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
