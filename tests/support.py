"""Helpers the whole suite shares: the outside world's mail server when it is down, and the
data a Django admin form sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.http import StreamingHttpResponse

from members.models import Person, User

# What the test clients answer, by the names the stubs give them (Django's test client adds
# .json(), .context and the like to the response; DRF's APIClient adds .data).
if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as PageResponse  # noqa: F401
    from rest_framework.response import _MonkeyPatchedResponse as ApiResponse  # noqa: F401
else:
    from django.http import HttpResponse as PageResponse  # noqa: F401
    from rest_framework.response import Response as ApiResponse  # noqa: F401

# Django's settings path to the backend below, for override_settings(EMAIL_BACKEND=...).
MAIL_SERVER_DOWN = "tests.support.MailServerDown"


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
