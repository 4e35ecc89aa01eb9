"""The settings page "Sharing with a clinician": the person's care team (add a clinician, end a
membership) and their share grants (share measurements with a clinician or by link, revoke).

The rules are accounts' (accounts.care, accounts.sharing); this page only collects input,
calls them, and names the shared measurement types, which is why it lives with the metrics.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import care, sharing
from accounts.members import display_name, member_redirect, page_owner
from accounts.models import CareTeam, ShareGrant
from healthtrack.core.once import pop_secret, stash_secret
from healthtrack.core.pages import form_status
from metrics.forms import BP_DIASTOLIC, BP_SYSTOLIC, SHARE_CHOICES, CareTeamAddForm, ShareGrantForm

BLOOD_PRESSURE = "blood_pressure"

NEW_SHARE_SESSION_KEY = "metrics:new_share_link"


def _own_grants(owner):
    # Grants are the owner's decisions: they (or a family manager acting for them) revoke them;
    # a read-only family member sees them.
    return ShareGrant.objects.filter(owner=owner).select_related("grantee")


def _own_care_teams(owner):
    return CareTeam.objects.active().filter(patient=owner).select_related("clinician")


def _whose(request: HttpRequest, owner) -> str:
    """ "your" on one's own page, "Milo's" when acting for a family member."""
    if owner.pk == request.user.pk:
        return "your"
    return f"{display_name(owner)}'s"


def _share_names(codes: list[str]) -> str:
    names = dict(SHARE_CHOICES)
    shown = []
    for code in codes:
        key = BLOOD_PRESSURE if code in (BP_SYSTOLIC, BP_DIASTOLIC) else code
        name = names.get(key, code)
        if name not in shown:
            shown.append(name)
    return ", ".join(shown)


@login_required
@never_cache
def settings_sharing(request: HttpRequest) -> HttpResponse:
    owner = page_owner(request, write=request.method == "POST")
    care_form = CareTeamAddForm(prefix="care")
    share_form = ShareGrantForm(prefix="share", owner=owner)
    if request.method == "POST" and "care-email" in request.POST:
        care_form = CareTeamAddForm(request.POST, prefix="care")
        if care_form.is_valid():
            try:
                membership = care.care_team_accept_clinician(
                    patient=owner,
                    clinician_email=care_form.cleaned_data["email"],
                    accepted_by=request.user,
                )
            except ValidationError as exc:
                care_form.add_error("email", exc.message_dict.get("email", exc.messages))
            else:
                messages.success(
                    request,
                    f"{membership.clinician.get_full_name() or membership.clinician.username} "
                    f"is now in {_whose(request, owner)} care team and can read "
                    f"{_whose(request, owner)} health data.",
                )
                return member_redirect(request, "settings-sharing")
    elif request.method == "POST":
        share_form = ShareGrantForm(request.POST, prefix="share", owner=owner)
        if share_form.is_valid():
            created = _share_create(owner, share_form)
            if created is not None:
                if created.token:
                    stash_secret(
                        request,
                        NEW_SHARE_SESSION_KEY,
                        {
                            "link": request.build_absolute_uri(created.link_path),
                            "code": created.code,
                        },
                    )
                    messages.success(request, "Share link created. Copy the link and code now.")
                else:
                    messages.success(request, f"Shared with {_whose(request, owner)} clinician.")
                return member_redirect(request, "settings-sharing")
    new_share = pop_secret(request, NEW_SHARE_SESSION_KEY) if request.method == "GET" else None
    grants = list(_own_grants(owner))
    for grant in grants:
        grant.shared_names = _share_names(grant.metric_types)
    return render(
        request,
        "settings/sharing.html",
        {
            "section": "sharing",
            "care_form": care_form,
            "share_form": share_form,
            "care_teams": _own_care_teams(owner),
            "grants": grants,
            "new_share": new_share,
        },
        status=form_status(care_form, share_form),
    )


def _share_create(owner, form: ShareGrantForm):
    clinician = None
    email = form.cleaned_data["clinician_email"]
    try:
        if email:
            clinician = care._clinician_by_email(email)
        return sharing.share_grant_create(
            owner=owner,
            metric_types=form.metric_type_codes(),
            date_from=form.cleaned_data["date_from"],
            date_to=form.cleaned_data["date_to"],
            expires_at=form.expires_at(),
            clinician=clinician,
            label=form.cleaned_data["label"],
        )
    except ValidationError as exc:
        form.add_service_errors(exc, {"email": "clinician_email"})
        return None


@login_required
@require_POST
def settings_care_team_end(request: HttpRequest, pk: int) -> HttpResponse:
    owner = page_owner(request, write=True)
    membership = get_object_or_404(_own_care_teams(owner), pk=pk)
    care.care_team_end(membership=membership, ended_by=request.user)
    name = membership.clinician.get_full_name() or membership.clinician.username
    messages.success(request, f"{name} is no longer in {_whose(request, owner)} care team.")
    return member_redirect(request, "settings-sharing")


@login_required
@require_POST
def settings_share_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    owner = page_owner(request, write=True)
    grant = get_object_or_404(_own_grants(owner), pk=pk)
    sharing.share_grant_revoke(grant=grant)
    messages.success(request, "Share revoked. It stops working at once.")
    return member_redirect(request, "settings-sharing")
