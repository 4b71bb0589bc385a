"""Moving a bank in, in a real Chromium: Riverside's administrator downloads the template,
uploads files with problems (the dry run lists them, line and column), then good files, reads
what the import will create, confirms, and reads the reconciliation. Every page is checked
with axe-core; screenshots at 360 and 1280 px."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import zipfile
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import ADMIN_URL, DB_NAME, PASSWORD, ROOT, Site, fresh_totp_code

pytestmark = pytest.mark.e2e
ADA = "ada.admin@demo.timebank.localhost"
ADA_SECRET = base64.b32encode(hashlib.sha1(b"e2e Ada Admin").digest()).decode()
# Riverside gets an administrator (the demo has a broker only), with an authenticator app.
MAKE_ADA = f"""
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from members.models import Membership, Person, Role, Status, TimeBank, User
from django.utils import timezone
user = User.objects.create_user(email={ADA!r}, password={PASSWORD!r})
EmailAddress.objects.create(user=user, email={ADA!r}, verified=True, primary=True)
person = Person.objects.create(user=user, display_name="Ada Admin")
Membership.objects.create(person=person, time_bank=TimeBank.objects.get(slug="riverside"),
    role=Role.ADMIN, status=Status.APPROVED, decided_at=timezone.now())
TOTP.activate(user, {ADA_SECRET!r})
RecoveryCodes.activate(user)
"""


def csv_text(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


DAY = date.today() - timedelta(days=20)
GOOD = {
    "members.csv": csv_text(
        "external_id,display_name,email,joined_on,status,declared_balance",
        "old-1,Nell Newcomb,nell.newcomb@demo.timebank.localhost,2019-04-01,active,1:30",
        "old-2,Otto Olsen,,2019-05-01,active,-1:30",
    ),
    "exchanges.csv": csv_text(
        "external_id,service_date,provider_external_id,recipient_external_id,hours,description,category",
        f"oldx-1,{DAY.isoformat()},old-1,old-2,2,Fixed the fence,diy-and-repairs",
        f"oldx-2,{(DAY + timedelta(days=2)).isoformat()},old-2,old-1,0:30,Walked the dog,pets",
    ),
    "offers.csv": csv_text(
        "external_id,member_external_id,kind,title",
        "oldo-1,old-1,offer,Fence and gate repairs",
    ),
}
BAD = {
    **GOOD,
    "exchanges.csv": csv_text(
        "external_id,service_date,provider_external_id,recipient_external_id,hours,description",
        f"oldx-1,{DAY.isoformat()},old-1,nobody,2,Fixed the fence",
        "oldx-2,31/02/2025,old-2,old-1,0:30,Walked the dog",
        f"oldx-3,{DAY.isoformat()},old-1,old-2,30,A very long day",
    ),
}


@pytest.fixture(scope="module")
def ada_exists(server_url: str) -> None:
    env = {"DATABASE_URL": f"{ADMIN_URL.rsplit('/', 1)[0]}/{DB_NAME}", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", MAKE_ADA],
        env={**__import__("os").environ, **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def sign_in_as_ada(site: Site) -> None:
    page = site.goto("/accounts/login/")
    page.fill("input[name=login]", ADA)
    page.fill("input[name=password]", PASSWORD)
    with site.navigates():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/2fa/authenticate/" in page.url
    page.fill("input[name=code]", fresh_totp_code(ADA_SECRET))
    with site.navigates():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/2fa/" not in page.url


def both_widths(site: Site, name: str) -> None:
    """Screenshots at 360 px (the phone the suite uses) and at 1280 px (a desk computer):
    ``Site.screenshot`` takes both."""
    site.screenshot(name)


def upload(site: Site, files: dict[str, bytes]) -> None:
    page = site.page
    page.get_by_label("The file to import").set_input_files(
        files=[{"name": "our-old-bank.zip", "mimeType": "application/zip", "buffer": zipped(files)}]
    )
    with site.navigates():
        page.get_by_role("button", name="Check the file").click()


def test_the_admin_uploads_reads_the_dry_run_confirms_and_reads_the_reconciliation(
    site, ada_exists
) -> None:
    ada = site()
    sign_in_as_ada(ada)
    page = ada.goto("/banks/riverside/desk/")
    with ada.navigates():
        page.get_by_role("link", name="Import or export the bank").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Move a time bank in: Riverside Time Bank"
    )
    both_widths(ada, "20-ada-import-start")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the spreadsheet template").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(2) == b"PK", "the template is not an XLSX (zip) file"

    # Files with problems: each named with its line and column; nothing written.
    upload(ada, BAD)
    expect(page.get_by_role("alert")).to_contain_text("problems to fix. Nothing has been written.")
    problems = page.locator("ul.problems")
    expect(problems).to_contain_text("No member with external id nobody")
    expect(problems).to_contain_text("“31/02/2025” is not a date")
    expect(problems).to_contain_text(
        "gave 30 hours in one exchange, more than this bank's largest exchange of 24 hours"
    )
    both_widths(ada, "21-ada-import-problems")

    # The corrected files: what the import will create, then confirm.
    with ada.navigates():
        page.get_by_role("link", name="Upload the corrected files").click()
    upload(ada, GOOD)
    expect(page.get_by_role("status").first).to_contain_text("No problems")
    expect(page.locator("main")).to_contain_text(
        "2 members (1 invited to set a password, 1 offline)"
    )
    expect(page.locator("main")).to_contain_text(
        "2 exchanges with their original dates (2.5 hours)"
    )
    both_widths(ada, "22-ada-import-ready")
    page.get_by_label("Not yet: I will send them from this page").check()
    with ada.navigates():
        page.get_by_role("button", name="Import").click()
    expect(page.locator("main")).to_contain_text("Imported on")
    expect(page.locator("main")).to_contain_text("0 hours (as they must")
    expect(page.locator("main")).to_contain_text("0 sent, 1 waiting")
    both_widths(ada, "23-ada-import-reconciliation")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the reconciliation (CSV)").click()
    with open(download.value.path(), encoding="utf-8") as f:
        reconciliation = f.read()
    assert "member,old-1,Nell Newcomb,1:30" in reconciliation

    # The members are there, with their history, on the broker's side of the site.
    page = ada.goto("/banks/riverside/members/?q=Nell")
    expect(page.locator("main")).to_contain_text("Nell Newcomb")
