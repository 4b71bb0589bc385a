from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from ledger.models import Account

from . import services
from .access import (
    get_acting_for,
    get_application_for,
    get_bank_for_broker,
    get_bank_for_member,
    get_capabilities_owner_for,
    get_capability_for,
    get_listing_for,
    get_member_for_admin,
    get_member_for_broker,
    get_safeguarding_member_for,
    get_safeguarding_record_for,
    is_broker,
    is_safeguarding_lead,
    may_be_acted_for,
    may_edit_listing,
    person_for,
)
from .forms import (
    AnswerForm,
    ApplicationForm,
    CapabilityForm,
    DeclineForm,
    EraseForm,
    IntroduceForm,
    JoinedOnForm,
    ListingForm,
    ListingSearchForm,
    MemberSearchForm,
    NoteForm,
    OfflineMemberForm,
    ProfileForm,
    ReplyForm,
    RoleForm,
    SafeguardingForm,
)
from .matching import matches_for
from .middleware import SESSION_KEY as ACTING_SESSION_KEY
from .models import (
    TRADING_ROLES,
    Capability,
    Contact,
    ContactPreference,
    Listing,
    Membership,
    Note,
    Organisation,
    Person,
    Role,
    SafeguardingRecord,
    Status,
    TimeBank,
)
from .privacy import export_zip

LISTINGS_PER_PAGE = 20
MEMBERS_PER_PAGE = 50


@login_required
def edit_profile(request: HttpRequest) -> HttpResponse:
    acting = request.acting  # type: ignore[attr-defined]
    # The monitoring answers are the member's own: a broker acting for a member with a login
    # neither sees nor changes them (for an offline member they record what the member gave).
    form = ProfileForm(
        request.POST or None,
        instance=person_for(request.user),
        demographics=acting is None or acting.member.is_offline,
    )
    if request.method == "POST" and form.is_valid() and acting is not None:
        # A broker acting for a member edits the member's profile, not their own.
        try:
            services.update_member_profile(acting=acting, profile=form.profile())
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(name)s's profile is saved.") % {"name": acting.member.display_name},
            )
            return redirect("dashboard", slug=acting.time_bank.slug)
    elif request.method == "POST" and form.is_valid():
        services.update_profile(user=request.user, profile=form.profile())
        messages.success(request, _("Your profile is saved."))
        return redirect("home")
    return render(request, "members/profile.html", {"form": form})


@login_required
@require_GET
def export_my_data(request: HttpRequest) -> HttpResponse:
    """Everything held about the signed-in person: JSON (default) or a ZIP of CSV files."""
    if request.acting is not None:  # type: ignore[attr-defined]
        raise PermissionDenied(_("Only the member can export their data: stop acting first."))
    person = person_for(request.user)
    if person is None:
        raise Http404(_("You have no profile yet, so nothing is held about you beyond your login."))
    as_csv = request.GET.get("format") == "csv"
    data = services.export_person_data(person=person, file_format="csv" if as_csv else "json")
    stamp = timezone.localdate().isoformat()
    if as_csv:
        response = HttpResponse(export_zip(data), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.zip"'
        return response
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response


@login_required
def apply(request: HttpRequest, slug: str) -> HttpResponse:
    if request.acting is not None:  # type: ignore[attr-defined]
        raise PermissionDenied(
            _("You cannot apply to a time bank while acting: stop acting first.")
        )
    bank = get_object_or_404(TimeBank, slug=slug)
    person = person_for(request.user)
    if person and Membership.objects.filter(person=person, time_bank=bank).exists():
        messages.info(request, _("You have already applied to %(bank)s.") % {"bank": bank.name})
        return redirect("home")
    # Don't re-ask what we know: a returning person's profile is filled in already, and the
    # referees of their last application to another time bank.
    earlier = (
        Membership.objects.filter(person=person)
        .exclude(referee_1_name="")
        .order_by("-applied_at")
        .first()
        if person
        else None
    )
    referees = (
        {name: getattr(earlier, name) for name in services.Referees.__dataclass_fields__}
        if earlier
        else None
    )
    form = ApplicationForm(request.POST or None, instance=person, initial=referees)
    if request.method == "POST" and form.is_valid():
        try:
            services.apply_to_bank(
                user=request.user,
                time_bank=bank,
                profile=form.profile(),
                referees=form.referees(),
                agrees_to_code=form.cleaned_data["agrees_to_code"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Thank you. %(bank)s is checking your application.") % {"bank": bank.name},
            )
            return redirect("home")
    return render(request, "members/apply.html", {"bank": bank, "form": form})


@login_required
def application_queue(request: HttpRequest, slug: str) -> HttpResponse:
    """The broker's approval queue for their own time bank."""
    bank, _broker = get_bank_for_broker(request.user, slug)
    applications = (
        Membership.objects.filter(time_bank=bank)
        .awaiting_decision()
        .select_related("person", "person__user")
    )
    return render(
        request,
        "members/application_queue.html",
        {"bank": bank, "applications": applications, "decline_form": DeclineForm()},
    )


@login_required
@require_POST
def approve_application(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_application_for(request.user, pk, write=True)
    broker = person_for(request.user)
    try:
        services.approve_membership(membership=application, broker=broker)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, _("%(name)s is now a member.") % {"name": application.person.display_name}
        )
    return redirect("application-queue", slug=application.time_bank.slug)


@login_required
def decline_application(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_application_for(request.user, pk, write=True)
    form = DeclineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decline_membership(
                membership=application,
                broker=person_for(request.user),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("The application from %(name)s was declined.")
                % {"name": application.person.display_name},
            )
            return redirect("application-queue", slug=application.time_bank.slug)
    return render(request, "members/decline.html", {"application": application, "form": form})


@login_required
def add_offline_member(request: HttpRequest, slug: str) -> HttpResponse:
    bank, broker = get_bank_for_broker(request.user, slug)
    form = OfflineMemberForm(request.POST or None, initial={"contact_preference": "broker"})
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.create_offline_member(
                time_bank=bank,
                broker=broker,
                profile=form.profile(),
                joined_on=form.cleaned_data["joined_on"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(name)s is now a member. You can record hours for them here.")
                % {"name": membership.person.display_name},
            )
            # Their page: where the broker goes next (record their first slip, add a note).
            return redirect("member-page", slug=bank.slug, person_id=membership.person_id)
    return render(request, "members/offline_member.html", {"bank": bank, "form": form})


# --- Offers and requests ---------------------------------------------------------------------


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
        "members/listings.html",
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
    return render(request, "members/listing_form.html", {"bank": bank, "form": form})


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
        "members/listing_detail.html",
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
                listing=listing, editor=person_for(request.user), details=form.details()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your changes are saved."))
            return redirect("listing-detail", pk=listing.pk)
    return render(
        request,
        "members/listing_form.html",
        {"bank": listing.time_bank, "form": form, "listing": listing},
    )


@login_required
@require_POST
def renew_listing(request: HttpRequest, pk: int) -> HttpResponse:
    listing = get_listing_for(request.user, pk, write=True)
    renewed = services.renew_listing(listing=listing, editor=person_for(request.user))
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
    services.close_listing(listing=listing, editor=person_for(request.user))
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
        "members/matches.html",
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


# --- Capabilities ----------------------------------------------------------------------------


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
        "members/capabilities.html",
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


# --- The broker's member pages ---------------------------------------------------------------


@login_required
def member_search(request: HttpRequest, slug: str) -> HttpResponse:
    """For a broker: the bank's members, searchable by name, area and status."""
    bank, _broker = get_bank_for_broker(request.user, slug)
    form = MemberSearchForm(request.GET or None)
    found = Membership.objects.filter(time_bank=bank).select_related("person")
    if form.is_valid():
        data = form.cleaned_data
        if data["name"]:
            found = found.filter(person__display_name__icontains=data["name"].strip())
        if data["area"]:
            found = found.filter(person__area__istartswith=data["area"].strip())
        if data["status"]:
            found = found.filter(status=data["status"])
    found = found.order_by("person__display_name", "pk")
    page = Paginator(found, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "members/member_search.html",
        {"bank": bank, "form": form, "page": page, "query": query.urlencode()},
    )


@login_required
def member_page(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For a broker: one member's profile, skills, listings and private notes."""
    membership, broker = get_member_for_broker(request.user, slug, person_id)
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_note(author=broker, membership=membership, text=form.cleaned_data["text"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Note saved."))
            return redirect("member-page", slug=slug, person_id=person_id)
    bank = membership.time_bank
    person = membership.person
    return render(
        request,
        "members/member_page.html",
        {
            "bank": bank,
            "membership": membership,
            "person": person,
            "other_memberships": Membership.objects.filter(person=person)
            .exclude(pk=membership.pk)
            .filter(time_bank__in=Membership.objects.brokered_by(request.user).values("time_bank"))
            .select_related("time_bank"),
            "capabilities": Capability.objects.filter(person=person, time_bank=bank).select_related(
                "category"
            ),
            "listings": Listing.objects.filter(time_bank=bank)
            .filter(Q(person=person) | Q(organisation__representatives=person))
            .distinct()
            .select_related("category", "organisation"),
            "notes": Note.objects.filter(person=person, time_bank=bank).select_related("author"),
            "note_form": form,
            "account": Account.objects.for_member(person, bank).first(),
            "may_erase": Membership.objects.for_user(request.user)
            .approved()
            .filter(time_bank=bank, role=Role.ADMIN)
            .exists(),
            "may_act_for": may_be_acted_for(membership),
            "is_safeguarding_lead": is_safeguarding_lead(broker, bank),
        },
    )


@login_required
def set_member_joined(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For a broker: when a member really joined, so their earliest paper slips can go in."""
    membership, broker = get_member_for_broker(request.user, slug, person_id)
    form = JoinedOnForm(request.POST or None, initial={"joined_on": membership.joined})
    if request.method == "POST" and form.is_valid():
        try:
            services.set_joined_on(
                membership=membership, joined_on=form.cleaned_data["joined_on"], by=broker
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(name)s joined on %(date)s.")
                % {
                    "name": membership.person.display_name,
                    "date": date_format(form.cleaned_data["joined_on"], "DATE_FORMAT"),
                },
            )
            return redirect("member-page", slug=slug, person_id=person_id)
    return render(
        request,
        "members/joined.html",
        {"bank": membership.time_bank, "membership": membership, "form": form},
    )


@login_required
def erase_member(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For an admin: confirm (GET), then erase (POST) a member's identity, keeping their hours."""
    membership = get_member_for_admin(request.user, slug, person_id)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.erase_person(
                person=membership.person, admin=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Erased. They are now shown as %(name)s.") % {"name": person.display_name},
            )
            return redirect("member-page", slug=slug, person_id=person_id)
    return render(
        request,
        "members/erase.html",
        {"bank": membership.time_bank, "membership": membership, "form": form},
    )


# --- Acting for a member ---------------------------------------------------------------------


@login_required
@require_POST
def start_acting(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """A broker starts acting for a member: the session carries the member from now on."""
    bank = get_object_or_404(TimeBank, slug=slug)
    if request.acting is not None:  # type: ignore[attr-defined]
        raise PermissionDenied(_("Stop acting for the current member first."))
    acting = get_acting_for(request.user, time_bank_id=bank.pk, person_id=person_id)
    services.start_acting(acting=acting)
    request.session[ACTING_SESSION_KEY] = {"bank": bank.pk, "person": acting.member.pk}
    messages.success(
        request, _("You are now acting for %(name)s.") % {"name": acting.member.display_name}
    )
    return redirect("dashboard", slug=bank.slug)


@login_required
@require_POST
def stop_acting(request: HttpRequest) -> HttpResponse:
    """The broker stops acting and is themself again, back on the member's page."""
    acting = request.acting  # type: ignore[attr-defined]
    request.session.pop(ACTING_SESSION_KEY, None)
    if acting is None:
        return redirect("home")
    services.stop_acting(acting=acting)
    messages.success(
        request,
        _("You have stopped acting for %(name)s.") % {"name": acting.member.display_name},
    )
    return redirect("member-page", slug=acting.time_bank.slug, person_id=acting.member.pk)


# --- Roles -----------------------------------------------------------------------------------


@login_required
def change_role(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For an admin (a broker within limits): change a member's role and safeguarding lead."""
    membership, by = get_member_for_broker(request.user, slug, person_id)
    form = RoleForm(
        request.POST or None,
        initial={"role": membership.role, "safeguarding_lead": membership.safeguarding_lead},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.change_role(
                membership=membership,
                role=form.cleaned_data["role"],
                by=by,
                safeguarding_lead=form.cleaned_data["safeguarding_lead"],
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(name)s's role is changed.") % {"name": membership.person.display_name},
            )
            return redirect("member-page", slug=slug, person_id=person_id)
    return render(
        request,
        "members/role.html",
        {"bank": membership.time_bank, "membership": membership, "form": form},
    )


# --- Safeguarding ----------------------------------------------------------------------------


@login_required
def safeguarding(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    """For the safeguarding lead only: a member's references and checks, and a form to add one."""
    membership, lead = get_safeguarding_member_for(request.user, slug, person_id)
    form = SafeguardingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_safeguarding_check(membership=membership, by=lead, check=form.check())
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("The check is recorded."))
            return redirect("safeguarding", slug=slug, person_id=person_id)
    records = SafeguardingRecord.objects.filter(
        time_bank=membership.time_bank, person=membership.person
    ).select_related("recorded_by")
    return render(
        request,
        "members/safeguarding.html",
        {
            "bank": membership.time_bank,
            "membership": membership,
            "records": records,
            "form": form,
        },
    )


@login_required
def safeguarding_edit(request: HttpRequest, pk: int) -> HttpResponse:
    record, lead = get_safeguarding_record_for(request.user, pk, write=True)
    form = SafeguardingForm(request.POST or None, instance=record)
    back = redirect("safeguarding", slug=record.time_bank.slug, person_id=record.person_id)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_safeguarding_check(record=record, by=lead, check=form.check())
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, _("The check is changed."))
            return back
    return render(request, "members/safeguarding_edit.html", {"record": record, "form": form})


@login_required
@require_POST
def safeguarding_delete(request: HttpRequest, pk: int) -> HttpResponse:
    record, lead = get_safeguarding_record_for(request.user, pk, write=True)
    services.delete_safeguarding_check(record=record, by=lead)
    messages.success(request, _("The check is deleted."))
    return redirect("safeguarding", slug=record.time_bank.slug, person_id=record.person_id)
