"""Residents' pages: the event list, an event with its shifts, sign-up, my shifts, calendars."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, lazyload

from .. import signups
from ..catalog import CATEGORIES
from ..extensions import db
from ..hooks import locks_late, writes
from ..models import Event, Shift, Signup, SignupStatus, VolunteerProfile
from ..query import arg_choice, arg_flag, arg_id, arg_page
from ..services import ServiceError, calendar, listing, posters, volunteers
from ..timeutil import local_today, utcnow
from ..web import refuse
from .blueprint import bp


def hold_policy() -> signups.HoldPolicy:
    config = current_app.config
    return signups.HoldPolicy(
        no_shows=config["NOSHOW_HOLD_COUNT"],
        within_days=config["NOSHOW_HOLD_WITHIN_DAYS"],
        hold_days=config["NOSHOW_HOLD_DAYS"],
    )


@bp.route("/events")
def index():
    filters = listing.Filters(
        area_id=arg_id("area"),
        category=arg_choice("category", CATEGORIES),
        when=arg_choice("when", ("today", "weekend", "week")),
        places_only=arg_flag("places"),
    )
    now = utcnow()
    user = current_user if current_user.is_authenticated else None
    query = listing.query_events(user, filters, now=now, today=local_today())
    page = db.paginate(query, page=arg_page(), per_page=20, error_out=False)
    free = listing.places_left([e.id for e in page.items], now)
    home = None
    if user is not None:
        profile = db.session.get(VolunteerProfile, user.id)
        home = profile.community_id if profile else None
    filtered = bool(filters.area_id or filters.category or filters.when or filters.places_only)
    near = [] if filtered or page.page > 1 else listing.near_home(user, now=now)
    return render_template(
        "events/index.html",
        near=near,
        filtered=filtered,
        page=page,
        free=free,
        filters=filters,
        categories=CATEGORIES,
        areas=listing.area_choices(),
        home=home,
    )


def _load_visible(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    user = current_user if current_user.is_authenticated else None
    if event is None or not signups.can_see(user, event):
        abort(404)
    return event


@bp.route("/events/<int:event_id>")
def detail(event_id: int):
    event = _load_visible(event_id)
    now, today = utcnow(), local_today()
    mine: dict[int, Signup] = {}
    reasons: dict[int, list[str]] = {}
    positions: dict[int, int | None] = {}
    hold_until = None
    if current_user.is_authenticated:
        for signup in db.session.scalars(
            select(Signup).where(
                Signup.user_id == current_user.id,
                Signup.shift_id.in_([s.id for s in event.shifts]),
                Signup.status != SignupStatus.CANCELLED,
            )
        ):
            mine[signup.shift_id] = signup
            positions[signup.shift_id] = signups.waitlist_position(signup)
        policy = hold_policy()
        hold_until = signups.no_show_hold_until(current_user, now, policy)
        for shift in event.shifts:
            if shift.id not in mine:
                reasons[shift.id] = signups.refusal_reasons(
                    current_user, shift, now=now, today=today, policy=policy
                )
    return render_template(
        "events/detail.html",
        event=event,
        mine=mine,
        reasons=reasons,
        positions=positions,
        categories=CATEGORIES,
        now=now,
        hold_until=hold_until,
        share_url=_event_url(event),
        share_text=_poster_text(event),
    )


#: A sign-up's first read: the shift with its event (its leads are not needed) and the
#: volunteer's profile, in one statement; the refusal checks then find the profile in the
#: session instead of reading it again.
_SHIFT_AND_PROFILE = (
    select(Shift, VolunteerProfile)
    .outerjoin(VolunteerProfile, VolunteerProfile.user_id == bindparam("user_id"))
    .where(Shift.id == bindparam("shift_id"))
    .options(joinedload(Shift.event), lazyload(Shift.leads))
)


@bp.route("/shifts/<int:shift_id>/signup", methods=["POST"])
@login_required
@locks_late  # signups.sign_up takes SQLite's write lock after its checks
def sign_up(shift_id: int):
    row = db.session.execute(
        _SHIFT_AND_PROFILE, {"shift_id": shift_id, "user_id": current_user.id}
    ).first()
    shift = row[0] if row is not None else None
    if shift is None or not signups.can_see(current_user, shift.event):
        abort(404)
    try:
        result = signups.sign_up(
            current_user,
            shift,
            now=utcnow(),
            today=local_today(),
            policy=hold_policy(),
            ip=request.remote_addr,
        )
    except ServiceError as error:
        refuse(error)
        profile = db.session.get(VolunteerProfile, current_user.id)
        if not volunteers.is_complete(profile, local_today()):
            return redirect(url_for("volunteers.me"))
    else:
        if result.position is None:
            flash(_("You are signed up. Thank you!"), "success")
        else:
            flash(
                _(
                    "The shift is full: you are on the waitlist, number %(n)d. We tell you if a "
                    "place becomes free.",
                    n=result.position,
                ),
                "warning",
            )
    return redirect(url_for("events.detail", event_id=shift.event_id) + f"#shift-{shift.id}")


@bp.route("/signups/<int:signup_id>/cancel", methods=["POST"])
@login_required
def cancel(signup_id: int):
    signup = db.session.get(Signup, signup_id)
    if signup is None or signup.user_id != current_user.id:
        abort(404)
    try:
        signups.cancel(signup, actor=current_user, now=utcnow(), ip=request.remote_addr)
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("Your sign-up has been cancelled."), "info")
    target = request.form.get("next")
    if target == "my_shifts":
        return redirect(url_for("events.my_shifts"))
    return redirect(url_for("events.detail", event_id=signup.shift.event_id))


@bp.route("/my/shifts")
@login_required
def my_shifts():
    now = utcnow()
    rows = db.session.scalars(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.user_id == current_user.id, Signup.status != SignupStatus.CANCELLED)
        .options(joinedload(Signup.shift).joinedload(Shift.event))
        .order_by(Shift.starts_at)
    ).all()
    upcoming = [s for s in rows if s.shift.ends_at > now]
    past = [s for s in rows if s.shift.ends_at <= now][::-1]
    positions = {s.id: signups.waitlist_position(s) for s in upcoming}
    deadlines = {
        s.id: s.shift.starts_at.timestamp() - s.shift.cancel_deadline_hours * 3600 > now.timestamp()
        for s in upcoming
    }
    return render_template(
        "events/my_shifts.html",
        upcoming=upcoming,
        past=past,
        positions=positions,
        can_cancel=deadlines,
        categories=CATEGORIES,
    )


def _event_url(event: Event) -> str:
    return url_for("events.detail", event_id=event.id, _external=True)


def _ics(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/events/<int:event_id>.ics")
def event_ics(event_id: int):
    event = _load_visible(event_id)
    live = [s for s in event.shifts if not s.cancelled]
    return _ics(
        calendar.build(live, name=event.title, url_for_event=_event_url), f"event-{event.id}.ics"
    )


@bp.route("/shifts/<int:shift_id>.ics")
def shift_ics(shift_id: int):
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        abort(404)
    _load_visible(shift.event_id)
    return _ics(
        calendar.build([shift], name=shift.event.title, url_for_event=_event_url),
        f"shift-{shift.id}.ics",
    )


@bp.route("/my/calendar", methods=["GET", "POST"])
@login_required
@writes
def my_calendar():
    if request.method == "POST":
        calendar.renew_token(current_user)
        flash(_("A new calendar link was made; the old one no longer works."), "info")
        return redirect(url_for("events.my_calendar"))
    token = calendar.feed_token(current_user)
    https_url = url_for("events.calendar_feed", token=token, _external=True)
    webcal_url = "webcal://" + https_url.split("://", 1)[1]
    return render_template("events/my_calendar.html", https_url=https_url, webcal_url=webcal_url)


@bp.route("/calendar/<token>.ics")
def calendar_feed(token: str):
    found = calendar.feed_shifts(token)
    if found is None:
        abort(404)
    _user, shifts = found
    body = calendar.build(shifts, name=_("My volunteer shifts"), url_for_event=_event_url)
    return _ics(body, "volunteer-shifts.ics")


# ---------------------------------------------------------------- sharing an event


def _poster_text(event: Event) -> posters.PosterText:
    zh = str(get_locale() or "zh").startswith("zh")
    start_fmt, end_fmt = ("M月d日 EEE HH:mm", "M月d日 HH:mm") if zh else ("EEE d MMM HH:mm",) * 2
    when = ""
    if event.starts_at and event.ends_at:
        start = format_datetime(event.starts_at, start_fmt)
        same_day = format_datetime(event.starts_at, "yyyyMMdd") == format_datetime(
            event.ends_at, "yyyyMMdd"
        )
        end = format_datetime(event.ends_at, "HH:mm" if same_day else end_fmt)
        when = f"{start}–{end}" if same_day else f"{start} – {end}"
    place = event.address + (f" · {event.area.name}" if event.area else "")
    return posters.PosterText(
        title=event.title,
        when=when,
        place=place,
        host=event.host.name,
        call_to_action=_("Scan to see the shifts and sign up"),
    )


@bp.route("/events/<int:event_id>/share")
def share(event_id: int):
    """A page to pass the event on: its link, its QR code and posters to print or send."""
    event = _load_visible(event_id)
    return render_template(
        "events/share.html",
        event=event,
        url=_event_url(event),
        text=_poster_text(event),
    )


@bp.route("/events/<int:event_id>/poster.<fmt>")
def poster(event_id: int, fmt: str):
    """The QR poster as PDF (A4 or phone size) or PNG."""
    event = _load_visible(event_id)
    if fmt not in ("pdf", "png"):
        abort(404)
    size = arg_choice("size", tuple(posters.SIZES), "a4" if fmt == "pdf" else "phone")
    text, url = _poster_text(event), _event_url(event)
    body = posters.pdf(text, url, size) if fmt == "pdf" else posters.png(text, url, size)
    return Response(
        body,
        mimetype="application/pdf" if fmt == "pdf" else "image/png",
        headers={
            "Content-Disposition": f"inline; filename=event-{event.id}-{size}.{fmt}",
            "Cache-Control": "public, max-age=300",
        },
    )
