"""Helpers the whole suite shares: a moment on a day, Celery tasks run in the test's process,
the outside world's mail server (refusing some addresses, or down), the data a Django admin
form sends, a cast member's sign-in, and what the test clients answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from smtplib import SMTPRecipientsRefused
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.mail.message import EmailMessage
from django.http import StreamingHttpResponse
from django.utils import timezone

from members.models import Person, User
from timebank.celery import app

# What the test clients answer, by the names the stubs give them (Django's test client adds
# .json(), .context and the like to the response; DRF's APIClient adds .data).
if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as PageResponse  # noqa: F401
    from rest_framework.response import _MonkeyPatchedResponse as ApiResponse  # noqa: F401
else:
    from django.http import HttpResponse as PageResponse  # noqa: F401
    from rest_framework.response import Response as ApiResponse  # noqa: F401

# Django's settings paths to the backends below, for override_settings(EMAIL_BACKEND=...).
MAIL_SERVER_DOWN = "tests.support.MailServerDown"
REFUSING_MAIL_SERVER = "tests.support.RefusingBackend"


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """``day`` at ``hour``:``minute`` in the site's time zone (Europe/London)."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@contextmanager
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in this process at once, as CELERY_TASK_ALWAYS_EAGER does (tasks
    queued after commit run then). Celery reads its settings once, so the app's own setting
    is switched."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = before


class RefusingBackend(LocmemBackend):
    """The outside world's mail server: delivers to ``mail.outbox``, except that it refuses
    every address at refused.example.org (no such user, for ever) and an address
    ``refusals[address]`` more times (for ever with -1; a temporary failure). Counts every
    attempt per address."""

    refusals: ClassVar[dict[str, int]] = {}
    attempts: ClassVar[Counter[str]] = Counter()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            for address in message.to:
                self.attempts[address] += 1
                if address.endswith("@refused.example.org"):
                    raise SMTPRecipientsRefused({address: (550, b"No such user")})
                left = self.refusals.get(address, 0)
                if left:
                    self.refusals[address] = left - 1
                    raise SMTPRecipientsRefused({address: (451, b"try again later")})
        return super().send_messages(email_messages)


class MailServerDown(BaseEmailBackend):
    """A mail server nobody can reach: every send fails as a refused connection does
    (SMTP errors are OSErrors). Counts the attempts."""

    attempts = 0

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        type(self).attempts += 1
        raise ConnectionRefusedError(111, "Connection refused")


def admin_change_data(page: Any, **changes: Any) -> dict[str, Any]:
    """The POST data of a Django admin change form as the page showed it (every field and
    inline at its current value), with ``changes`` applied: what a person clicking "Save"
    after editing those fields sends."""
    data: dict[str, Any] = {}
    form = page.context["adminform"].form
    for name in form.fields:
        value = form.initial.get(name)
        data[name] = "" if value is None else getattr(value, "pk", value)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for sub in formset.forms:
            data[f"{sub.prefix}-id"] = sub.instance.pk
            for name in sub.fields:
                value = sub.initial.get(name)
                if value is not None:
                    data[f"{sub.prefix}-{name}"] = getattr(value, "pk", value)
    data.update(changes)
    return data


def user_of(person: Person) -> User:
    """The sign-in of ``person``, who has one (every named person of the cast but olive)."""
    assert person.user is not None, f"{person} has no sign-in (an offline member)"
    return person.user


def streamed(response: object) -> bytes:
    """The whole body of a file download (a streamed response)."""
    assert isinstance(response, StreamingHttpResponse), response
    return b"".join(response)
