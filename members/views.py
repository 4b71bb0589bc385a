from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import services
from .access import get_application_for, get_bank_for_broker, person_for
from .forms import ApplicationForm, DeclineForm, OfflineMemberForm, ProfileForm
from .models import Membership, TimeBank


def home(request: HttpRequest) -> HttpResponse:
    """Signed out: what a time bank is and which ones to join. Signed in: your time banks."""
    if not request.user.is_authenticated:
        banks = TimeBank.objects.filter(accepting_applications=True)
        return render(request, "members/welcome.html", {"banks": banks})
    memberships = Membership.objects.for_user(request.user).select_related("time_bank")
    joined = {m.time_bank_id for m in memberships}
    open_banks = TimeBank.objects.filter(accepting_applications=True).exclude(pk__in=joined)
    return render(
        request,
        "members/home.html",
        {"person": person_for(request.user), "memberships": memberships, "open_banks": open_banks},
    )


@login_required
def edit_profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=person_for(request.user))
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=request.user, profile=form.profile())
        messages.success(request, "Your profile is saved.")
        return redirect("home")
    return render(request, "members/profile.html", {"form": form})


@login_required
def apply(request: HttpRequest, slug: str) -> HttpResponse:
    bank = get_object_or_404(TimeBank, slug=slug)
    person = person_for(request.user)
    if person and Membership.objects.filter(person=person, time_bank=bank).exists():
        messages.info(request, f"You have already applied to {bank.name}.")
        return redirect("home")
    # Don't re-ask what we know: a returning person's profile is filled in already.
    form = ApplicationForm(request.POST or None, instance=person)
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
            messages.success(request, f"Thank you. {bank.name} is checking your application.")
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
        messages.success(request, f"{application.person.display_name} is now a member.")
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
                request, f"The application from {application.person.display_name} was declined."
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
                time_bank=bank, broker=broker, profile=form.profile()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{membership.person.display_name} is now a member. You will record hours for them.",
            )
            return redirect("application-queue", slug=bank.slug)
    return render(request, "members/offline_member.html", {"bank": bank, "form": form})
