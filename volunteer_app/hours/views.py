"""Hours pages: a volunteer's hours, correction requests and certificate; the lead's shift
confirmation; organisers' approvals, manual records, corrections and the requests inbox;
and the public page that verifies a certificate.

Scope: a record is an organiser's when its host lies in their organiser subtree, and a
lead's when they lead its shift. Records, shifts and requests outside the caller's scope
answer 404, as if they did not exist."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from .. import checkin
from ..catalog import CATEGORIES
from ..extensions import db
from ..hooks import writes
from ..models import (
    Attendance,
    CorrectionRequest,
    Event,
    OrgUnit,
    RecordKind,
    RecordStatus,
    Role,
    ServiceRecord,
    Shift,
    ShiftLead,
    TrainingRecord,
    User,
    VolunteerProfile,
)
from ..permissions import load_in_scope, role_required
from ..query import arg_page
from ..services import (
    ServiceError,
    audit,
    certificates,
    external_hours,
    hours,
    identifiers,
    notices,
    volunteers,
)
from ..services.scope import covers, path_filter
from ..timeutil import local_today, utcnow
from .blueprint import bp
from .forms import AnswerForm, AskForm, CertificateForm, CorrectionForm, ManualForm

ORGANISER = [Role.ORGANISER]
#: Most pending records the approvals page lists at once (oldest first).
PENDING_LIMIT = 300
#: Most volunteers a manual-record search offers to choose from.
MAX_MATCHES = 10
#: How far back the approvals page looks for ended shifts nobody has confirmed.
CONFIRM_LOOKBACK = timedelta(days=60)

STAR_LABELS = {
    0: _l("Not yet a star volunteer"),
    1: _l("One-star volunteer"),
    2: _l("Two-star volunteer"),
    3: _l("Three-star volunteer"),
    4: _l("Four-star volunteer"),
    5: _l("Five-star volunteer"),
}


@bp.app_template_filter("hm")
def hm(minutes: int | None, signed: bool = False) -> str:
    """Minutes as h:mm (125 -> "2:05"); with a sign for corrections when `signed`."""
    minutes = int(minutes or 0)
    sign = "-" if minutes < 0 else ("+" if signed and minutes > 0 else "")
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


#: Ids beyond this are no row's (a 32-bit key on PostgreSQL); SQLite cannot even bind
#: integers past 2**63, so such ids answer 404 before any query.
MAX_ID = 2**31 - 1
#: Pages beyond this are empty anyway; a huge number would overflow the OFFSET.
MAX_PAGE = 10_000


def _ip() -> str | None:
    return request.remote_addr


def _get(model, ident: int | None):
    """The row with this id, or None (also for ids no row can have)."""
    if ident is None or not 0 < ident <= MAX_ID:
        return None
    return db.session.get(model, ident)


def _flash_errors(form) -> None:
    for errors in form.errors.values():
        for message in errors:
            flash(message, "danger")


def _attempt(action, success: str) -> bool:
    """Run one service call: commit and flash `success`, or roll back and flash every
    reason. True when it went through."""
    try:
        action()
    except ServiceError as error:
        db.session.rollback()
        for message in error.messages:
            flash(message, "danger")
        return False
    db.session.commit()
    flash(success, "success")
    return True


# ---------------------------------------------------------------- rules for correction
# requests. They belong in services.hours (this change could not edit it): no `request`,
# flush and never commit, ServiceError with every reason.


def ask_correction(
    user: User, record: ServiceRecord, message: str, *, now: datetime, ip: str | None = None
) -> CorrectionRequest:
    """The volunteer asks for one of their records to be corrected (办法 Art 12)."""
    problems = []
    if record.user_id != user.id:
        problems.append(str(_l("You can ask only about your own records.")))
    if not (message or "").strip():
        problems.append(str(_l("Please say what should be corrected.")))
    still_open = db.session.scalar(
        select(
            exists().where(
                CorrectionRequest.record_id == record.id,
                CorrectionRequest.user_id == user.id,
                CorrectionRequest.answered_at.is_(None),
            )
        )
    )
    if still_open:
        problems.append(
            str(_l("You have already asked about this record; please wait for the answer."))
        )
    if problems:
        raise ServiceError(problems)
    item = CorrectionRequest(
        user_id=user.id, record_id=record.id, message=message.strip()[:1000], created_at=now
    )
    db.session.add(item)
    db.session.flush()
    audit.record("hours.ask_correction", actor=user, ip=ip, obj=item, record=record.id)
    return item


def answer_request(
    actor: User,
    item: CorrectionRequest,
    answer: str,
    *,
    now: datetime,
    delta_minutes: int | None = None,
    ip: str | None = None,
) -> ServiceRecord | None:
    """An organiser of the record's host answers; with a change in minutes, the answer is
    also the reason of a correction (a new pending row). Returns the correction, if any."""
    record = item.record
    host = db.session.get(OrgUnit, record.host_id) if record and record.host_id else None
    if host is None or not covers(actor, host, ORGANISER):
        raise ServiceError(_l("You may not answer this request."))
    problems = []
    if item.answered_at is not None:
        problems.append(str(_l("This request has already been answered.")))
    if not (answer or "").strip():
        problems.append(str(_l("Please write an answer.")))
    if problems:
        raise ServiceError(problems)
    correction = None
    if delta_minutes:
        correction = hours.add_correction(actor, record, delta_minutes, answer.strip(), ip=ip)
    item.answer = answer.strip()[:1000]
    item.answered_by_id = actor.id
    item.answered_at = now
    db.session.flush()
    notices.correction_answered(item, now=now)
    audit.record(
        "hours.answer_request",
        actor=actor,
        ip=ip,
        obj=item,
        correction=correction.id if correction else None,
    )
    return correction


# ---------------------------------------------------------------- scope helpers


def _host_scope(user: User) -> ColumnElement:
    """Records whose host lies in the user's organiser scope."""
    hosts = select(OrgUnit.id).where(path_filter(OrgUnit.path, user, ORGANISER))
    return ServiceRecord.host_id.in_(hosts)


def _decide_scope(user: User) -> ColumnElement:
    """Records the user may decide: host in their organiser scope, or a shift they lead."""
    led = select(ShiftLead.shift_id).where(ShiftLead.user_id == user.id)
    return or_(_host_scope(user), ServiceRecord.shift_id.in_(led))


def _led_shift(shift_id: int) -> Shift:
    shift = _get(Shift, shift_id)
    if shift is None or not checkin.leads_shift(current_user, shift):
        abort(404)
    return shift


def _host_of(record: ServiceRecord) -> OrgUnit | None:
    return db.session.get(OrgUnit, record.host_id) if record.host_id else None


def _records(ids: list[int], *where: ColumnElement) -> list[ServiceRecord]:
    """The records with these ids, all of them matching `where`; 404 if any is missing
    (or outside the caller's scope)."""
    wanted = set(ids)
    if any(not 0 < i <= MAX_ID for i in wanted):
        abort(404)
    found = db.session.scalars(
        select(ServiceRecord).where(ServiceRecord.id.in_(wanted), *where)
    ).all()
    if len(found) != len(wanted):
        abort(404)
    return list(found)


def _op() -> bool:
    """True to approve, False to reject; 400 for anything else."""
    op = request.form.get("op")
    if op not in ("approve", "reject"):
        abort(400)
    return op == "approve"


def _decide(records: list[ServiceRecord], approve: bool) -> None:
    pending = [r for r in records if r.status is RecordStatus.PENDING]
    if not pending:
        flash(_("Nothing to decide: the records have been decided already."), "info")
        return
    n = len(pending)
    message = (
        _("%(n)d records approved.", n=n) if approve else _("%(n)d records not approved.", n=n)
    )
    _attempt(lambda: hours.decide(current_user, pending, approve, now=utcnow(), ip=_ip()), message)


def overdue_cutoff(today: date) -> date:
    """The latest service date whose pending records are overdue today."""
    day = today
    while hours.working_days_between(day, today) <= hours.OVERDUE_WORKING_DAYS:
        day -= timedelta(days=1)
    return day


def _corrections_of(ids: list[int]) -> dict[int, list[ServiceRecord]]:
    found: dict[int, list[ServiceRecord]] = defaultdict(list)
    if ids:
        for row in db.session.scalars(
            select(ServiceRecord)
            .where(ServiceRecord.corrects_id.in_(ids))
            .order_by(ServiceRecord.created_at, ServiceRecord.id)
        ):
            found[row.corrects_id].append(row)
    return found


def _counted(record: ServiceRecord, corrections: list[ServiceRecord]) -> int:
    """What an approved record counts for, with its approved corrections."""
    if record.status is not RecordStatus.APPROVED:
        return 0
    return record.minutes + sum(c.minutes for c in corrections if c.status is RecordStatus.APPROVED)


# ---------------------------------------------------------------- the volunteer's pages


@bp.route("/my/hours")
@login_required
def mine():
    user_id = current_user.id
    today = local_today()
    approved = hours.approved_minutes(user_id)
    pending = int(
        db.session.scalar(
            select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
                ServiceRecord.user_id == user_id, ServiceRecord.status == RecordStatus.PENDING
            )
        )
    )
    page = db.paginate(
        select(ServiceRecord)
        .where(ServiceRecord.user_id == user_id, ServiceRecord.kind != RecordKind.CORRECTION)
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc()),
        page=arg_page(),
        per_page=50,
        error_out=False,
    )
    corrections = _corrections_of([r.id for r in page.items])
    asked = db.session.scalars(
        select(CorrectionRequest)
        .where(CorrectionRequest.user_id == user_id)
        .options(joinedload(CorrectionRequest.record))
        .order_by(CorrectionRequest.created_at.desc(), CorrectionRequest.id.desc())
    ).all()
    first = db.session.scalar(
        select(func.min(ServiceRecord.service_date)).where(ServiceRecord.user_id == user_id)
    )
    certificate_form = CertificateForm(
        formdata=None, start=first or date(today.year, 1, 1), end=today
    )
    return render_template(
        "hours/mine.html",
        approved=approved,
        pending=pending,
        stars=hours.stars_for(external_hours.star_minutes(user_id, approved)),
        star_labels=STAR_LABELS,
        external=external_hours.records_of(user_id),
        external_counted=external_hours.counts_for_stars(),
        page=page,
        corrections=corrections,
        counted={r.id: _counted(r, corrections.get(r.id, [])) for r in page.items},
        requests=asked,
        open_requests={a.record_id for a in asked if a.answered_at is None},
        training=db.session.scalars(
            select(TrainingRecord)
            .where(TrainingRecord.user_id == user_id)
            .order_by(TrainingRecord.held_on.desc(), TrainingRecord.id.desc())
        ).all(),
        ask_form=AskForm(formdata=None),
        certificate_form=certificate_form,
        categories=CATEGORIES,
        today=today,
    )


@bp.route("/my/hours/records/<int:record_id>/ask", methods=["POST"])
@login_required
def ask(record_id: int):
    record = _get(ServiceRecord, record_id)
    if record is None or record.user_id != current_user.id:
        abort(404)
    form = AskForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("hours.mine", _anchor=f"record-{record.id}"))
    _attempt(
        lambda: ask_correction(current_user, record, form.message.data, now=utcnow(), ip=_ip()),
        _("Your request has been sent; the organiser will answer here."),
    )
    return redirect(url_for("hours.mine", _anchor="requests"))


@bp.route("/my/certificate.pdf")
@writes
@login_required
def certificate():
    form = CertificateForm(request.args)
    if not form.validate():
        _flash_errors(form)
        return redirect(url_for("hours.mine", _anchor="certificate"))
    try:
        issued = certificates.issue(
            current_user, form.start.data, form.end.data, today=local_today(), ip=_ip()
        )
    except ServiceError as error:
        db.session.rollback()
        for message in error.messages:
            flash(message, "danger")
        return redirect(url_for("hours.mine", _anchor="certificate"))
    pdf = certificates.render_pdf(
        issued, url_for("hours.verify", number=issued.number, _external=True)
    )
    db.session.commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{issued.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------- public verification


@bp.route("/verify")
def verify_form():
    number = (request.args.get("number") or "").strip()
    if number:
        return redirect(url_for("hours.verify", number=number[:60]))
    return render_template("hours/verify.html", result=None, number="", asked=False)


@bp.route("/verify/<number>")
def verify(number: str):
    """Anyone may check a certificate: number, masked name, hours, issuer, issue date —
    nothing else. A number that is not genuine answers 404 with the same page."""
    result = certificates.verify(number, today=local_today())
    response = make_response(
        render_template("hours/verify.html", result=result, number=number[:60], asked=True),
        200 if result else 404,
    )
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# ---------------------------------------------------------------- a lead's shift


@bp.route("/hours/shifts/<int:shift_id>")
@role_required(Role.LEAD, Role.ORGANISER)
def shift(shift_id: int):
    shift = _led_shift(shift_id)
    now = utcnow()
    records = db.session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.shift_id == shift.id)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.kind, ServiceRecord.id)
    ).all()
    preview = []
    if shift.confirmed_at is None:
        grace = current_app.config["CREDIT_GRACE_MINUTES"]
        for attendance in db.session.scalars(
            select(Attendance)
            .where(Attendance.shift_id == shift.id)
            .options(joinedload(Attendance.user))
            .order_by(Attendance.id)
        ):
            credited = checkin.credited_minutes(
                attendance.checked_in_at,
                attendance.checked_out_at,
                shift.starts_at,
                shift.ends_at,
                grace,
            )
            preview.append((attendance, credited))
    confirmer = db.session.get(User, shift.confirmed_by_id) if shift.confirmed_by_id else None
    return render_template(
        "hours/shift.html",
        shift=shift,
        records=records,
        preview=preview,
        open_rows=sum(1 for a, _m in preview if a.checked_out_at is None),
        confirmer=confirmer,
        ended=now >= shift.ends_at,
        has_pending=any(r.status is RecordStatus.PENDING for r in records),
    )


@bp.route("/hours/shifts/<int:shift_id>/confirm", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def confirm(shift_id: int):
    shift = _led_shift(shift_id)
    try:
        written = hours.confirm_shift(
            current_user,
            shift,
            now=utcnow(),
            grace_minutes=current_app.config["CREDIT_GRACE_MINUTES"],
            ip=_ip(),
        )
    except ServiceError as error:
        db.session.rollback()
        for message in error.messages:
            flash(message, "danger")
    else:
        db.session.commit()
        n = len(written)
        message = _("Shift confirmed: %(n)d service records written; they await approval.", n=n)
        flash(message, "success")
    return redirect(url_for("hours.shift", shift_id=shift_id))


@bp.route("/hours/shifts/<int:shift_id>/decide", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def decide_shift(shift_id: int):
    shift = _led_shift(shift_id)
    approve = _op()
    if request.form.get("all") == "1":
        records = db.session.scalars(
            select(ServiceRecord).where(
                ServiceRecord.shift_id == shift.id, ServiceRecord.status == RecordStatus.PENDING
            )
        ).all()
    else:
        ids = request.form.getlist("record", type=int)
        if not ids:
            flash(_("Please select at least one record."), "warning")
            return redirect(url_for("hours.shift", shift_id=shift.id))
        records = _records(ids, ServiceRecord.shift_id == shift.id)
    _decide(list(records), approve)
    return redirect(url_for("hours.shift", shift_id=shift.id))


# ---------------------------------------------------------------- approvals


@dataclass
class Group:
    shift: Shift | None
    records: list[ServiceRecord] = field(default_factory=list)
    overdue: int = 0


def _shifts_to_confirm(user: User, now: datetime) -> list[Shift]:
    """Ended shifts in the user's care with attendance that nobody has confirmed yet."""
    led = select(ShiftLead.shift_id).where(ShiftLead.user_id == user.id)
    hosts = select(OrgUnit.id).where(path_filter(OrgUnit.path, user, ORGANISER))
    return list(
        db.session.scalars(
            select(Shift)
            .join(Event, Event.id == Shift.event_id)
            .where(
                Shift.confirmed_at.is_(None),
                Shift.cancelled.is_(False),
                Shift.ends_at < now,
                Shift.ends_at > now - CONFIRM_LOOKBACK,
                or_(Shift.id.in_(led), Event.host_id.in_(hosts)),
                exists().where(Attendance.shift_id == Shift.id),
            )
            .options(joinedload(Shift.event))
            .order_by(Shift.ends_at)
            .limit(50)
        )
    )


@bp.route("/hours/pending")
@role_required(Role.LEAD, Role.ORGANISER)
def pending():
    today = local_today()
    scope = _decide_scope(current_user)
    where = (ServiceRecord.status == RecordStatus.PENDING, scope)
    cutoff = overdue_cutoff(today)
    total = db.session.scalar(select(func.count()).select_from(ServiceRecord).where(*where))
    overdue = db.session.scalar(
        select(func.count())
        .select_from(ServiceRecord)
        .where(*where, ServiceRecord.service_date <= cutoff)
    )
    rows = db.session.scalars(
        select(ServiceRecord)
        .where(*where)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
        .limit(PENDING_LIMIT)
    ).all()
    shift_ids = {r.shift_id for r in rows if r.shift_id}
    shifts = {
        s.id: s
        for s in db.session.scalars(
            select(Shift).where(Shift.id.in_(shift_ids)).options(joinedload(Shift.event))
        )
    }
    # Oldest first, so groups holding overdue records come first.
    groups: dict[int | None, Group] = {}
    for row in rows:
        group = groups.setdefault(row.shift_id, Group(shifts.get(row.shift_id)))
        group.records.append(row)
        if row.service_date <= cutoff:
            group.overdue += 1
    return render_template(
        "hours/pending.html",
        groups=list(groups.values()),
        total=total,
        shown=len(rows),
        overdue=overdue,
        cutoff=cutoff,
        to_confirm=_shifts_to_confirm(current_user, utcnow()),
        open_requests=_open_requests_count(current_user),
        is_organiser=current_user.has_role(Role.ORGANISER, Role.ADMIN),
        categories=CATEGORIES,
    )


@bp.route("/hours/pending/decide", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def decide_pending():
    approve = _op()
    scope = _decide_scope(current_user)
    shift_id = request.args.get("shift", type=int)
    if shift_id is not None:
        if not 0 < shift_id <= MAX_ID:
            abort(404)
        # Every record of the shift in scope (a second click finds them decided).
        records = db.session.scalars(
            select(ServiceRecord).where(ServiceRecord.shift_id == shift_id, scope)
        ).all()
        if not records:
            abort(404)
    else:
        ids = request.form.getlist("record", type=int)
        if not ids:
            flash(_("Please select at least one record."), "warning")
            return redirect(url_for("hours.pending"))
        records = _records(ids, scope)
    _decide(list(records), approve)
    return redirect(url_for("hours.pending"))


# ---------------------------------------------------------------- records and corrections


@bp.route("/hours/records")
@role_required(Role.ORGANISER)
def records():
    text = (request.args.get("q") or "").strip()[:50]
    status = request.args.get("status") or "approved"
    query = (
        select(ServiceRecord)
        .join(User, User.id == ServiceRecord.user_id)
        .outerjoin(VolunteerProfile, VolunteerProfile.user_id == ServiceRecord.user_id)
        .where(_host_scope(current_user), ServiceRecord.kind != RecordKind.CORRECTION)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
    )
    if status in {s.value for s in RecordStatus}:
        query = query.where(ServiceRecord.status == RecordStatus(status))
    tail = identifiers.phone_tail(text)
    if tail:
        query = query.where(User.phone.endswith(tail))
    elif text:
        query = query.where(
            or_(
                VolunteerProfile.real_name.contains(text, autoescape=True),
                ServiceRecord.activity.contains(text, autoescape=True),
            )
        )
    page = db.paginate(query, page=arg_page(), per_page=30, error_out=False)
    corrections = _corrections_of([r.id for r in page.items])
    return render_template(
        "hours/records.html",
        page=page,
        corrections=corrections,
        counted={r.id: _counted(r, corrections.get(r.id, [])) for r in page.items},
        q=text,
        status=status,
        form=CorrectionForm(formdata=None),
        categories=CATEGORIES,
    )


@bp.route("/hours/records/<int:record_id>/correct", methods=["POST"])
@role_required(Role.ORGANISER)
def correct(record_id: int):
    if not 0 < record_id <= MAX_ID:
        abort(404)
    record = load_in_scope(ServiceRecord, record_id, ORGANISER, org_of=_host_of)
    form = CorrectionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        _attempt(
            lambda: hours.add_correction(
                current_user, record, form.delta.data, form.reason.data, ip=_ip()
            ),
            _("The correction has been added; it awaits approval."),
        )
    return redirect(url_for("hours.records", _anchor=f"record-{record.id}"))


# ---------------------------------------------------------------- manual records


def _match_label(profile: VolunteerProfile) -> str:
    community = profile.community.name if profile.community else "—"
    return f"{profile.real_name or '—'} · {profile.user.masked_phone} · {community}"


@bp.route("/hours/manual", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def manual():
    form = ManualForm(current_user)
    if request.method == "GET":
        form.service_date.data = local_today()
        return render_template("hours/manual.html", form=form)
    text = identifiers.search_term(form.q.data)
    matches = (
        db.session.scalars(volunteers.search(current_user, text=text).limit(MAX_MATCHES + 1))
        .unique()
        .all()
        if text
        else []
    )
    form.user.choices = [SelectChoice(p.user_id, _match_label(p)) for p in matches]
    if not form.validate_on_submit():
        return render_template("hours/manual.html", form=form)
    chosen = form.user.data
    exact = [p for p in matches if text in (p.user.phone, p.real_name)]
    if chosen is None and len(matches) == 1 and exact:
        chosen = matches[0].user_id
    if not matches:
        form.q.errors.append(_("No volunteer in your scope matches."))
    elif chosen is None and len(matches) > MAX_MATCHES:
        form.form_errors.append(_("Too many volunteers match; please type more of the name."))
        form.user.choices = []
    elif chosen is None:
        form.form_errors.append(_("Please choose the volunteer."))
    if chosen is None:
        return render_template("hours/manual.html", form=form)
    profile = next(p for p in matches if p.user_id == chosen)
    host = load_in_scope(OrgUnit, int(form.host.data), ORGANISER)
    try:
        hours.add_manual(
            current_user,
            profile.user,
            host=host,
            activity=form.activity.data or "",
            service_date=form.service_date.data,
            minutes=form.total_minutes,
            place=form.place.data or "",
            content=form.content.data or "",
            category=form.category.data or "other",
            reason=form.reason.data or "",
            today=local_today(),
            ip=_ip(),
        )
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.extend(error.messages)
        return render_template("hours/manual.html", form=form)
    db.session.commit()
    flash(
        _("The record for %(name)s has been saved; it awaits approval.", name=profile.real_name),
        "success",
    )
    return redirect(url_for("hours.manual"))


# ---------------------------------------------------------------- correction requests


def _requests_query(user: User):
    return (
        select(CorrectionRequest)
        .join(ServiceRecord, ServiceRecord.id == CorrectionRequest.record_id)
        .where(_host_scope(user))
    )


def _open_requests_count(user: User) -> int:
    if not user.has_role(Role.ORGANISER, Role.ADMIN):
        return 0
    query = _requests_query(user).where(CorrectionRequest.answered_at.is_(None))
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


@bp.route("/hours/requests")
@role_required(Role.ORGANISER)
def requests():
    page = db.paginate(
        _requests_query(current_user)
        .options(joinedload(CorrectionRequest.record), joinedload(CorrectionRequest.user))
        .order_by(
            CorrectionRequest.answered_at.is_not(None),
            CorrectionRequest.created_at.desc(),
            CorrectionRequest.id.desc(),
        ),
        page=arg_page(),
        per_page=30,
        error_out=False,
    )
    return render_template("hours/requests.html", page=page, form=AnswerForm(formdata=None))


@bp.route("/hours/requests/<int:request_id>/answer", methods=["POST"])
@role_required(Role.ORGANISER)
def answer(request_id: int):
    item = _get(CorrectionRequest, request_id)
    host = _host_of(item.record) if item is not None and item.record is not None else None
    if host is None or not covers(current_user, host, ORGANISER):
        abort(404)
    form = AnswerForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        delta = form.delta.data or None
        _attempt(
            lambda: answer_request(
                current_user, item, form.answer.data, now=utcnow(), delta_minutes=delta, ip=_ip()
            ),
            _("Answered; the correction awaits approval.")
            if delta
            else _("Your answer has been sent."),
        )
    return redirect(url_for("hours.requests", _anchor=f"request-{request_id}"))
