"""Offers and requests: browse, publish, edit, renew, close, reply, matches and introductions;
and what members can do (capabilities)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from members.access import get_bank_for_member, is_broker, person_for, person_required
from members.models import (
    TRADING_ROLES,
    ContactPreference,
    Membership,
    Organisation,
    Person,
    Status,
    TimeBank,
)

from . import services
from .access import (
    get_capabilities_owner_for,
    get_capability_for,
    get_listing_for,
    may_edit_listing,
)
from .forms import (
    AnswerForm,
    CapabilityForm,
    IntroduceForm,
    ListingForm,
    ListingSearchForm,
    ReplyForm,
)
from .matching import matches_for
from .models import Capability, Contact, Listing

LISTINGS_PER_PAGE = 20


@login_required
def browse_listings(request: HttpRequest, slug: str) -> HttpResponse:
    """Open offers and requests of one time bank, filtered, newest first, a page at a time."""
    bank, person, membership = get_bank_for_member(request.user, slug)
    form = ListingSearchForm(request.GET or None)
    listings = Listing.objects.open().filter(time_bank=bank).with_owner()
    if form.is_valid():
        data = form.cleaned_data
        if data["kind"]:
            listings = listings.filter(kind=data["kind"])
        if data["category"]:
            listings = listings.filter(category=data["category"])
        if data["q"]:
            listings = listings.search(data["q"])
        if data["area"]:
            listings = listings.filter(area__istartswith=data["area"].strip())
    page = Paginator(listings, LISTINGS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "listings/listings.html",
        {
            "bank": bank,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "is_broker": membership.is_broker,
        },
    )


def _owner_choices(bank: TimeBank, person: Person, *, broker: bool) -> list[tuple[str, str]]:
    """Who ``person`` may publish for in ``bank``: themself, their organisations, and for a
    broker every member and organisation of the bank."""
    choices = [(f"person:{person.pk}", _("Me (%(name)s)") % {"name": person.display_name})]
    organisations = Organisation.objects.filter(time_bank=bank)
    if not broker:
        organisations = organisations.filter(representatives=person)
    choices += [(f"organisation:{o.pk}", o.name) for o in organisations]
    if broker:
        members = (
            Membership.objects.filter(
                time_bank=bank, status=Status.APPROVED, role__in=TRADING_ROLES
            )
            .exclude(person=person)
            .select_related("person")
            .order_by("person__display_name")
        )
        choices += [
            (
                f"person:{m.person_id}",
                (
                    _("%(name)s (no login)") % {"name": m.person.display_name}
                    if m.person.is_offline
                    else m.person.display_name
                ),
            )
            for m in members
        ]
    return choices


def _owner_from_choice(value: str | None) -> dict:
    kind, _sep, pk = (value or "").partition(":")
    if kind == "organisation" and pk.isdigit():
        return {"for_organisation": Organisation.objects.get(pk=int(pk))}
    if kind == "person" and pk.isdigit():
        return {"for_person": Person.objects.get(pk=int(pk))}
    return {}


@login_required
def new_listing(request: HttpRequest, slug: str) -> HttpResponse:
    bank, person, membership = get_bank_for_member(request.user, slug)
    owners = _owner_choices(bank, person, broker=membership.is_broker)
    initial = {"kind": request.GET.get("kind", "offer"), "area": person.area}
    for_id = request.GET.get("for", "")
    if for_id.isascii() and for_id.isdigit() and len(for_id) <= 18:
        initial["owner"] = f"person:{for_id}"
        # A broker publishing for a member: the area the member gave, not the broker's.
        owner = Person.objects.filter(
            pk=int(for_id), memberships__time_bank=bank, memberships__status=Status.APPROVED
        ).first()
        if membership.is_broker and owner is not None and owner.area:
            initial["area"] = owner.area
    form = ListingForm(request.POST or None, owners=owners, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            listing = services.publish_listing(
                author=person,
                time_bank=bank,
                details=form.details(),
                **_owner_from_choice(form.cleaned_data.get("owner")),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Published: %(title)s.") % {"title": listing.title})
            return redirect("listing-detail", pk=listing.pk)
    return render(request, "listings/listing_form.html", {"bank": bank, "form": form})


def _contact_line(person: Person) -> str:
    """The start of a reply: how the member likes to be contacted, as their profile says."""
    if person.contact_preference == ContactPreference.PHONE and person.phone and person.share_phone:
        return _("You can phone me on %(phone)s.") % {"phone": person.phone}
    if person.contact_preference == ContactPreference.BROKER:
        return _("Please reach me through our broker.")
    # By email: answers come through the site, so there is nothing to add.
    return ""


@login_required
def listing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One offer or request, the reply form, and for its owner or broker the replies."""
    listing = get_listing_for(request.user, pk)
    me = person_for(request.user)
    assert me is not None  # get_listing_for found a membership
    can_edit = may_edit_listing(me, listing)
    broker = is_broker(me, listing.time_bank_id)
    reply_form = ReplyForm(request.POST or None, initial={"message": _contact_line(me)})
    if request.method == "POST":
        answering = "to_person" in request.POST
        form = AnswerForm(request.POST) if answering else reply_form
        if form.is_valid():
            to_person = None
            if answering:
                to_person = Person.objects.filter(pk=form.cleaned_data["to_person"]).first()
                if to_person is None:
                    raise Http404(_("No such person."))
            try:
                with_email = services.reply_to_listing(
                    listing=listing,
                    sender=me,
                    message=form.cleaned_data["message"],
                    to_person=to_person,
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                recipient = with_email.to_person
                if recipient is not None and recipient.is_offline:
                    messages.success(
                        request,
                        _(
                            "Sent. %(name)s does not use email, so their broker "
                            "will pass your message on."
                        )
                        % {"name": recipient.display_name},
                    )
                else:
                    messages.success(request, _("Sent. They will get your message by email."))
                return redirect("listing-detail", pk=listing.pk)
        elif answering:
            messages.error(request, _("Please write a message."))
    contacts = Contact.objects.filter(listing=listing).select_related("from_person", "to_person")
    if not can_edit:
        contacts = contacts.filter(Q(from_person=me) | Q(to_person=me))
    phone = (
        listing.person.phone
        if listing.person is not None and listing.person.share_phone and listing.person.phone
        else ""
    )
    return render(
        request,
        "listings/listing_detail.html",
        {
            "listing": listing,
            "can_edit": can_edit,
            "is_broker": broker,
            "is_own": listing.person_id == me.pk or (can_edit and not broker),
            "reply_form": reply_form,
            "contacts": contacts,
            "phone": phone,
        },
    )


@login_required
def edit_listing(request: HttpRequest, pk: int) -> HttpResponse:
    listing = get_listing_for(request.user, pk, write=True)
    form = ListingForm(request.POST or None, instance=listing)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_listing(
                listing=listing, editor=person_required(request.user), details=form.details()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your changes are saved."))
            return redirect("listing-detail", pk=listing.pk)
    return render(
        request,
        "listings/listing_form.html",
        {"bank": listing.time_bank, "form": form, "listing": listing},
    )


@login_required
@require_POST
def renew_listing(request: HttpRequest, pk: int) -> HttpResponse:
    listing = get_listing_for(request.user, pk, write=True)
    renewed = services.renew_listing(listing=listing, editor=person_required(request.user))
    messages.success(
        request,
        _("Renewed. It now shows until %(date)s.")
        % {"date": date_format(renewed.expires_on, "DATE_FORMAT")},
    )
    return redirect("listing-detail", pk=listing.pk)


@login_required
@require_POST
def close_listing(request: HttpRequest, pk: int) -> HttpResponse:
    listing = get_listing_for(request.user, pk, write=True)
    services.close_listing(listing=listing, editor=person_required(request.user))
    messages.success(request, _("Closed. Members no longer see it."))
    return redirect("listing-detail", pk=listing.pk)


def _get_request_for_broker(user: object, pk: int) -> tuple[Listing, Person]:
    listing = get_listing_for(user, pk)
    broker = person_for(user)
    if not is_broker(broker, listing.time_bank_id):
        raise PermissionDenied(_("Only a broker of this time bank can match requests."))
    assert broker is not None
    return listing, broker


@login_required
def listing_matches(request: HttpRequest, pk: int) -> HttpResponse:
    """For a broker: members who could help with an open request, best first."""
    listing, _broker = _get_request_for_broker(request.user, pk)
    matches = matches_for(listing) if listing.kind == "request" and listing.is_open else []
    introduced = set(
        Contact.objects.filter(listing=listing, kind="introduction").values_list(
            "from_person_id", flat=True
        )
    )
    return render(
        request,
        "listings/matches.html",
        {
            "listing": listing,
            "matches": matches,
            "introduced": introduced,
            "form": IntroduceForm(),
        },
    )


@login_required
@require_POST
def introduce(request: HttpRequest, pk: int, person_id: int) -> HttpResponse:
    listing, broker = _get_request_for_broker(request.user, pk)
    helper = (
        Membership.objects.filter(time_bank=listing.time_bank, person_id=person_id)
        .select_related("person")
        .first()
    )
    if helper is None:
        raise Http404(_("No such member."))
    form = IntroduceForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    try:
        contact = services.introduce(
            broker=broker, listing=listing, helper=helper.person, message=message
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("listing-matches", pk=listing.pk)
    offline = [
        p.display_name
        for p in (contact.from_person, contact.to_person)
        if p is not None and p.is_offline
    ]
    text = _("Introduced %(helper)s to %(owner)s.") % {
        "helper": helper.person.display_name,
        "owner": listing.owner_name,
    }
    if offline:
        text += " " + ngettext(
            "%(names)s has no email: please phone them.",
            "%(names)s have no email: please phone them.",
            len(offline),
        ) % {"names": _(" and ").join(offline)}
    messages.success(request, text)
    return redirect("listing-matches", pk=listing.pk)


@login_required
def capabilities(request: HttpRequest, slug: str, person_id: int | None = None) -> HttpResponse:
    """What a member does, could do with encouragement, and would share; they or a broker edit."""
    membership, editor = get_capabilities_owner_for(request.user, slug, person_id)
    form = CapabilityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_capability(
                editor=editor,
                membership=membership,
                category=form.cleaned_data["category"],
                description=form.cleaned_data["description"],
                level=form.cleaned_data["level"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Added."))
            return redirect(request.path)
    entries = Capability.objects.filter(
        person_id=membership.person_id, time_bank_id=membership.time_bank_id
    ).select_related("category")
    return render(
        request,
        "listings/capabilities.html",
        {
            "membership": membership,
            "bank": membership.time_bank,
            "person": membership.person,
            "own": membership.person_id == editor.pk,
            "entries": entries,
            "form": form,
        },
    )


@login_required
@require_POST
def delete_capability(request: HttpRequest, pk: int) -> HttpResponse:
    capability = get_capability_for(request.user, pk, write=True)
    editor = person_for(request.user)
    assert editor is not None
    services.remove_capability(editor=editor, capability=capability)
    messages.success(request, _("Removed."))
    if capability.person_id == editor.pk:
        return redirect("capabilities", slug=capability.time_bank.slug)
    return redirect(
        "member-capabilities", slug=capability.time_bank.slug, person_id=capability.person_id
    )
