"""How often one person may make the site email someone else.

A reply to an offer or request, a broker's introduction and a recorded exchange (the other
party is asked to confirm, or told it is recorded) each send another person an email, so each
is limited per sender over the last hour. The count is taken from the rows the writes leave
(replies, introductions, exchanges), not from a cache: every web worker sees the same count,
and nothing has to be kept in step with the writes. The limits are generous for people and
stop a script (or a stolen login) from filling someone's inbox.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

# The window every limit counts over; the API's Retry-After says it.
WINDOW = timedelta(hours=1)
REPLIES_PER_HOUR = 20
INTRODUCTIONS_PER_HOUR = 60
# Exchanges (and donations, grants, group exchanges) one person records: a member recording
# their own help, a broker recording for offline members from a paper register.
EXCHANGES_PER_HOUR = 30
EXCHANGES_PER_HOUR_BROKER = 300


class RateLimited(ValidationError):
    """Too many in the last hour. A ``ValidationError``, so a form shows it like any refusal;
    the API answers ``http_status`` 429 with ``Retry-After`` (``timebank.api``)."""

    http_status = 429
    retry_after = int(WINDOW.total_seconds())


def at_most(recent: QuerySet, *, most: int) -> None:
    """Refuse when ``recent`` (the sender's rows of the last ``WINDOW``) already holds ``most``.
    Counts at most ``most`` rows, on the sender's index."""
    if recent[:most].count() >= most:
        raise RateLimited(
            _(
                "You have sent a lot in the last hour (%(most)s): to protect other members' "
                "inboxes, please wait a while and try again."
            )
            % {"most": most}
        )
