from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ledger.models import Account
from listings.models import Capability, Listing

from . import services
from .access import (
    get_acting_for,
    get_application_for,
    get_bank_for_broker,
    get_member_for_broker,
    is_safeguarding_lead,
    may_be_acted_for,
    person_for,
    person_required,
    signed_in,
)
from .forms import (
    ApplicationForm,
    DeclineForm,
    JoinedOnForm,
    MemberSearchForm,
    NoteForm,
    OfflineMemberForm,
    ProfileForm,
    RoleForm,
)
from .middleware import SESSION_KEY as ACTING_SESSION_KEY
from .models import (
    Membership,
    Note,
    Role,
    TimeBank,
)

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
        services.update_profile(user=signed_in(request.user), profile=form.profile())
        messages.success(request, _("Your profile is saved."))
        return redirect("home")
    return render(request, "members/profile.html", {"form": form})


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
                user=signed_in(request.user),
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
    broker = person_required(request.user)
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
                broker=person_required(request.user),
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
