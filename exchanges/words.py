"""What an exchange says, in the words of the person reading it.

Every page and email that tells someone about an exchange says who helped whom from where the
reader stands: "You helped Bob Baker for 1.5 hours on 5 December 2026" to Alice, "Alice Archer
helped you ..." to Bob, and both names to a broker. The person asked to confirm reads what the
other person said, quoted, and answers "Yes" with a button that says who helped whom again.

The date is always the date the help happened (``effective_date``), never when it was
recorded. No pronouns: the platform does not know (and must not guess) anyone's.
"""

from __future__ import annotations

from django.utils.formats import date_format
from django.utils.translation import gettext

from ledger.models import Account, AccountKind, format_hours
from members.models import Person

from .models import Exchange, Kind, State


def _is(account: Account | None, viewer: Person | None) -> bool:
    """Whether ``account`` is the viewer's own (a member's account, not an organisation's)."""
    return (
        account is not None
        and viewer is not None
        and account.kind == AccountKind.MEMBER
        and account.person_id == viewer.pk
    )


def _name(account: Account | None) -> str:
    if account is None:
        return ""
    if account.kind == AccountKind.POT:
        return gettext("the community pot")
    return account.holder_name


def _day(exchange: Exchange) -> str:
    return date_format(exchange.effective_date, "DATE_FORMAT")


def story(exchange: Exchange, viewer: Person | None) -> str:
    """Who helped whom, for how long and on which day, to ``viewer`` (None: to nobody in
    particular, e.g. a log line). One sentence, ending in a full stop."""
    hours = format_hours(exchange.minutes)
    day = _day(exchange)
    giver, receiver = exchange.giver, exchange.receiver
    if exchange.kind == Kind.GROUP or giver is None or receiver is None:
        return gettext("A group exchange on %(day)s: %(hours)s of help in all.") % {
            "day": day,
            "hours": hours,
        }
    values = {"hours": hours, "day": day, "giver": _name(giver), "receiver": _name(receiver)}
    if exchange.kind == Kind.DONATION:
        if _is(giver, viewer):
            return gettext("You gave %(hours)s to %(receiver)s on %(day)s.") % values
        if _is(receiver, viewer):
            return gettext("%(giver)s gave you %(hours)s on %(day)s.") % values
        return gettext("%(giver)s gave %(hours)s to %(receiver)s on %(day)s.") % values
    if exchange.kind == Kind.GRANT:
        if _is(receiver, viewer):
            return gettext("You were given %(hours)s from the community pot on %(day)s.") % values
        return gettext("%(receiver)s was given %(hours)s from the community pot on %(day)s.") % (
            values
        )
    if _is(giver, viewer):
        return gettext("You helped %(receiver)s for %(hours)s on %(day)s.") % values
    if _is(receiver, viewer):
        return gettext("%(giver)s helped you for %(hours)s on %(day)s.") % values
    return gettext("%(giver)s helped %(receiver)s for %(hours)s on %(day)s.") % values


def state(exchange: Exchange, viewer: Person | None) -> str:
    """Where the exchange stands, to ``viewer``: "Waiting for you to confirm"."""
    if exchange.state == State.UNCONFIRMED and exchange.awaiting_confirmation_from_id:
        if viewer is not None and exchange.awaiting_confirmation_from_id == viewer.pk:
            return gettext("Waiting for you to confirm")
        asked = exchange.awaiting_confirmation_from
        assert asked is not None  # its id is set
        return gettext("Waiting for %(name)s to confirm") % {"name": asked.display_name}
    if exchange.state == State.AWAITING_APPROVAL and exchange.flagged_over_limit:
        return gettext("Waiting for a broker to approve (past a limit)")
    return str(exchange.get_state_display())


def other_person(exchange: Exchange, viewer: Person | None) -> str:
    """The other side of a one-to-one exchange, as ``viewer`` sees it (a statement's "with
    whom"); both names when the viewer is neither."""
    giver, receiver = exchange.giver, exchange.receiver
    if giver is None or receiver is None:
        return gettext("A group")
    if _is(giver, viewer):
        return _name(receiver)
    if _is(receiver, viewer):
        return _name(giver)
    return gettext("%(giver)s and %(receiver)s") % {
        "giver": _name(giver),
        "receiver": _name(receiver),
    }


def other_side(exchange: Exchange, account: Account) -> str:
    """Who ``account`` exchanged with (a statement's "with whom")."""
    giver, receiver = exchange.giver, exchange.receiver
    if giver is None or receiver is None:
        return gettext("A group")
    # A name standing alone, as in a column: "Community pot", not "the community pot".
    if giver.pk == account.pk:
        return receiver.holder_name
    if receiver.pk == account.pk:
        return giver.holder_name
    return gettext("%(giver)s and %(receiver)s") % {
        "giver": giver.holder_name,
        "receiver": receiver.holder_name,
    }


def confirm_question(exchange: Exchange, viewer: Person) -> str:
    """To the person asked to confirm: what the recorder said, and "Is that right?"."""
    recorder = exchange.recorded_by.display_name
    values = {
        "recorder": recorder,
        "hours": format_hours(exchange.minutes),
        "day": _day(exchange),
        "what": exchange.description,
    }
    if _is(exchange.receiver, viewer):
        said = gettext("“I helped you for %(hours)s on %(day)s: %(what)s.”") % values
    elif _is(exchange.giver, viewer):
        said = gettext("“You helped me for %(hours)s on %(day)s: %(what)s.”") % values
    else:
        return gettext("%(story)s Recorded by %(recorder)s. Is that right?") % {
            "story": story(exchange, viewer),
            "recorder": recorder,
        }
    return gettext("%(recorder)s says: %(said)s Is that right?") % {
        "recorder": recorder,
        "said": said,
    }


def yes_label(exchange: Exchange, viewer: Person) -> str:
    """The one-tap "yes" for the person asked to confirm: it says who helped whom."""
    values = {
        "hours": format_hours(exchange.minutes),
        "day": date_format(exchange.effective_date, "j F"),
        "giver": _name(exchange.giver),
        "receiver": _name(exchange.receiver),
    }
    if exchange.between_banks:
        # Half of an exchange with a linked bank: the other side is that bank's mirror
        # account, and whoever is asked to confirm is asked about what its member recorded.
        for side in ("giver", "receiver"):
            account = getattr(exchange, side)
            if account is not None and account.kind == AccountKind.MIRROR:
                values[side] = gettext("%(name)s (%(bank)s)") % {
                    "name": exchange.recorded_by.display_name,
                    "bank": account.holder_name,
                }
    if _is(exchange.receiver, viewer):
        return gettext("Yes, %(giver)s helped me for %(hours)s on %(day)s") % values
    if _is(exchange.giver, viewer):
        return gettext("Yes, I helped %(receiver)s for %(hours)s on %(day)s") % values
    return gettext("Yes, confirm: %(giver)s helped %(receiver)s") % values
