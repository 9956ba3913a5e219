"""Choosing one volunteer by name or phone on an organiser's form (adding someone to a
shift's roster, entering a manual hours record): the search in the organiser's scope, the
choices offered, and the refusals — one implementation for every form that picks."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..models import User, VolunteerProfile
from ..services import identifiers, volunteer_search

#: Most volunteers a search offers to choose from.
MAX_MATCHES = 10


def match_label(profile: VolunteerProfile) -> str:
    """王小明 · 138****5678 · 东关社区: enough to tell namesakes apart, no full number."""
    community = profile.community.name if profile.community else "—"
    return f"{profile.real_name or '—'} · {profile.user.masked_phone} · {community}"


def pick(form: Any, actor: User) -> VolunteerProfile | None:
    """Validate a form with a search field `q` and a choice `user`: the volunteers matching
    the search in the actor's scope become the choices, and the one chosen (or the only
    one, when the full number or name was typed) is returned. None, with the reason on the
    form, when the page must be shown again."""
    text = identifiers.search_term(form.q.data)
    matches = (
        db.session.scalars(volunteer_search.search(actor, text=text).limit(MAX_MATCHES + 1))
        .unique()
        .all()
        if text
        else []
    )
    form.user.choices = [SelectChoice(p.user_id, match_label(p)) for p in matches]
    if not form.validate_on_submit():
        return None
    chosen = form.user.data
    exact = [p for p in matches if text in (p.user.phone, p.real_name)]
    if chosen is None and len(matches) == 1 and exact:
        chosen = matches[0].user_id  # the full number or name of exactly one volunteer
    if not matches:
        form.q.errors.append(_("No volunteer in your scope matches."))
    elif chosen is None and len(matches) > MAX_MATCHES:
        form.form_errors.append(_("Too many volunteers match; please type more of the name."))
        form.user.choices = []
    elif chosen is None:
        form.form_errors.append(_("Please choose the volunteer."))
    if chosen is None:
        return None
    return next(p for p in matches if p.user_id == chosen)
