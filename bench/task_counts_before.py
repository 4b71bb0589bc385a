"""The core tasks as they were before issue 22 (main at ba32644), in a real Chromium: page
loads and form fields per task, counted the same way as e2e/conftest.py's ``Site.task``.

It drives the old pages, so it runs only in a checkout of ba32644, inside its browser suite:

    git worktree add /tmp/before ba32644
    cp bench/task_counts_before.py /tmp/before/e2e/test_task_counts_before.py
    cd /tmp/before && E2E_DATABASE_NAME=<db> .venv/bin/pytest e2e/test_task_counts_before.py -m e2e
    cp /tmp/before/e2e-artifacts/task-counts-before.json bench/history/

The counts after are written by the browser suite on this branch (`make e2e`, to
e2e-artifacts/task-counts.json); `python bench/task_counts.py` prints both side by side.
What is counted: every page the person loads from their home page on (the home page is the
first), and the fields they see in each form they send (a group of radio buttons or of
checkboxes is one question). Signing in is not counted.
"""

from __future__ import annotations

import json
import re
import uuid
from contextlib import contextmanager
from datetime import date

import pytest

from .conftest import ARTIFACTS, Site, email

pytestmark = pytest.mark.e2e
BANK = "/banks/riverside"
OUT = ARTIFACTS / "task-counts-before.json"
FIELDS = """sel => {
    const form = document.querySelector(sel);
    const seen = new Set();
    for (const el of form.querySelectorAll('input, select, textarea')) {
        if (el.type === 'hidden' || !el.checkVisibility({visibilityProperty: true})) continue;
        seen.add(el.type === 'radio' || (el.type === 'checkbox' && el.name &&
                 form.querySelectorAll(`[name="${el.name}"]`).length > 1)
                 ? 'group:' + el.name : 'el:' + (el.id || el.name));
    }
    return seen.size;
}"""


class Counter:
    def __init__(self, site: Site, name: str) -> None:
        self.site, self.name = site, name
        self.counts = {"task": name, "page_loads": 0, "form_fields": 0, "forms": [], "notes": []}

    def goto(self, path: str):
        page = self.site.goto(path)
        self.counts["page_loads"] += 1
        return page

    @contextmanager
    def navigates(self):
        with self.site.navigates() as page:
            yield page
        self.counts["page_loads"] += 1

    def fields(self, form: str = "main form[method=post]") -> None:
        count = self.site.page.evaluate(FIELDS, form)
        self.counts["form_fields"] += count
        self.counts["forms"].append({"url": self.site.page.url, "fields": count})

    def save(self) -> None:
        counts = json.loads(OUT.read_text()) if OUT.exists() else {}
        counts[self.name] = self.counts
        OUT.write_text(json.dumps(counts, indent=2) + "\n")


def test_record(site) -> None:
    alice = site()
    alice.sign_in(email("Alice Archer"))
    task = Counter(alice, "record")
    page = task.goto("/")
    with task.navigates():
        page.get_by_role("link", name="Your hours and exchanges").click()
    with task.navigates():
        page.get_by_role("link", name="Record an exchange").first.click()
    page.get_by_label("I gave help").check()
    page.locator("select[name=other]").select_option(label="Chidi Okafor (GL52)")
    page.get_by_label("Hours").fill("0.5")
    page.get_by_label("What was the help?").fill(f"Counting {uuid.uuid4().hex[:4]}")
    task.fields()
    with task.navigates():
        page.get_by_role("button", name="Record the exchange").click()
    assert "/exchanges/" in page.url, page.url
    task.save()


def test_confirm(site) -> None:
    bob = site()
    bob.sign_in(email("Bob Baker"))
    task = Counter(bob, "confirm")
    page = task.goto("/")
    with task.navigates():
        page.get_by_role("link", name="Your hours and exchanges").click()
    with task.navigates():
        page.get_by_role("button", name='Confirm "Pruned the apple tree"').click()
    task.save()


def test_approve(site) -> None:
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    task = Counter(brenda, "approve")
    page = task.goto("/")
    with task.navigates():
        page.get_by_role("link", name="Broker's desk").first.click()
    page.get_by_role("button", name='Approve "Set up Edna\'s tablet"').click()
    page.get_by_role("status").filter(has_text="Done").wait_for()
    task.save()


def test_add_an_offline_member_and_record_for_them(site) -> None:
    brenda = site()
    brenda.sign_in(email("Brenda Broker"))
    task = Counter(brenda, "add an offline member and record for them")
    name = f"Margaret Dawson {uuid.uuid4().hex[:4]}"
    page = task.goto("/")
    with task.navigates():
        page.get_by_role("link", name="Add a member who does not use the website").click()
    page.get_by_label("Name shown to other members").fill(name)
    page.get_by_label("Area").fill("GL54")
    task.fields()
    with task.navigates():
        page.get_by_role("button", name="Add the member").click()
    # It lands on Applications; her page is found from the desk's "Find a member", which
    # lists every member whatever is typed (it sent ?q=), so she is picked from the list.
    with task.navigates():
        page.get_by_role("link", name="Broker's desk").first.click()
    page.get_by_label("Find a member").fill("Margaret")
    task.fields("main form[role=search]")
    with task.navigates():
        page.get_by_role("button", name="Search").click()
    task.counts["notes"].append(
        f"the desk's search listed {page.locator('table tbody tr').count()} members for 'Margaret'"
    )
    with task.navigates():
        page.get_by_role("link", name=name).click()
    with task.navigates():
        page.get_by_role("link", name=f"Record an exchange for {name}").click()
    # Her name is filled in as the giver; she received, so both are chosen again.
    page.locator("select[name=giver]").select_option(label="Dot Evans (GL50)")
    page.locator("select[name=receiver]").select_option(label=f"{name} (GL54)")
    page.get_by_label("Hours").fill("1")
    page.get_by_label("What was the help?").fill("Took her to the library")
    task.fields()
    # The paper slip is from last week, but she "joined" today: only today's date goes in.
    page.get_by_label("Date the help happened").fill(date.today().isoformat())
    task.counts["notes"].append(
        "last week's slip is refused ('joined on <today>: the help cannot be earlier'); "
        "counted with today's date"
    )
    with task.navigates():
        page.get_by_role("button", name="Record the exchange").click()
    assert "/exchanges/" in page.url, page.url
    task.save()


def test_pull_the_quarterly_report(site) -> None:
    cora = site()
    cora.sign_in(email("Cora Council"))
    task = Counter(cora, "pull the quarterly report")
    page = task.goto("/")
    with task.navigates():
        page.get_by_role("link", name="Commissioner report").click()
    with task.navigates():
        page.get_by_role("link", name="Last quarter").click()
    assert re.search(r"start=\d{4}-\d\d-\d\d", page.url), page.url
    task.save()
