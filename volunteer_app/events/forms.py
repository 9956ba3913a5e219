"""Organisers' forms: an event, a shift, cancelling, copying, repeating, the roster.

The forms turn what a person typed (local Asia/Shanghai dates and times) into the
services' field objects (naive UTC); every rule about the values stays in the services.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..catalog import CATEGORIES
from ..extensions import db
from ..forms import FlaskForm, PlainText, host_choices
from ..models import (
    Event,
    EventStatus,
    OrgLevel,
    OrgUnit,
    Role,
    RoleGrant,
    Shift,
    SignupStatus,
    User,
    Visibility,
)
from ..query import QueryForm
from ..services.events import EventFields, ShiftFields
from ..services.scope import path_filter
from ..timeutil import from_local, to_local

ORGANISER = (Role.ORGANISER,)

STATUS_LABELS = {
    EventStatus.DRAFT.value: _l("Draft"),
    EventStatus.PUBLISHED.value: _l("Published"),
    EventStatus.COMPLETED.value: _l("Completed"),
    EventStatus.CANCELLED.value: _l("Cancelled"),
}

SIGNUP_LABELS = {
    SignupStatus.CONFIRMED.value: _l("Confirmed"),
    SignupStatus.WAITLISTED.value: _l("Waitlisted"),
    SignupStatus.ATTENDED.value: _l("Attended"),
    SignupStatus.NO_SHOW.value: _l("Did not come"),
    SignupStatus.CANCELLED.value: _l("Cancelled"),
}

VISIBILITY_LABELS = {
    Visibility.PUBLIC.value: _l("Everyone"),
    Visibility.MEMBERS.value: _l("Members of the host's volunteer teams only"),
}

# ---------------------------------------------------------------- choices


def area_choices() -> list[SelectChoice]:
    """Every active town and community of the district, communities under their town."""
    nodes = db.session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.active.is_(True),
            OrgUnit.level.in_([OrgLevel.TOWN, OrgLevel.COMMUNITY]),
        )
        .order_by(OrgUnit.path)
    ).all()
    towns = {n.id: n.name for n in nodes if n.level is OrgLevel.TOWN}
    choices = [SelectChoice("", _l("— not set —"))]
    for node in nodes:
        if node.level is OrgLevel.TOWN:
            label = str(_l("%(town)s (whole town)", town=node.name))
            choices.append(SelectChoice(str(node.id), label, optgroup=node.name))
        elif node.parent_id in towns:
            choices.append(SelectChoice(str(node.id), node.name, optgroup=towns[node.parent_id]))
    return choices


def lead_choices(actor: User, keep: Iterable[User] = ()) -> list[SelectChoice]:
    """Users holding the lead role on a node within the actor's organiser scope (and the
    shift's present leads, so that saving never drops one silently)."""
    users = list(
        db.session.scalars(
            select(User)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
            .where(
                RoleGrant.role == Role.LEAD,
                User.active.is_(True),
                path_filter(OrgUnit.path, actor, ORGANISER),
            )
            .distinct()
        )
    )
    seen = {u.id for u in users}
    users += [u for u in keep if u.id not in seen]
    users.sort(key=lambda u: (u.display_name, u.id))
    return [SelectChoice(u.id, f"{u.display_name} {u.masked_phone}".strip()) for u in users]


# ---------------------------------------------------------------- events


class EventFilterForm(QueryForm):
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("All")),
            *(SelectChoice(k, v) for k, v in STATUS_LABELS.items()),
        ],
        validators=[Optional()],
    )
    submit = SubmitField(_l("Filter"))


def _optional_id(value: object) -> int | None:
    return int(value) if value not in (None, "") else None  # type: ignore[arg-type]


class EventForm(FlaskForm):
    """The event's details (the host is chosen once, when it is created)."""

    title = StringField(
        _l("Title"),
        validators=[DataRequired(_l("Please enter a title.")), Length(max=100), PlainText()],
    )
    category = SelectField(
        _l("Kind of service"),
        choices=[SelectChoice("", _l("— choose —"))]
        + [SelectChoice(k, v) for k, v in CATEGORIES.items()],
        validators=[DataRequired(_l("Please choose a category."))],
    )
    description = TextAreaField(
        _l("Description"),
        description=_l("What volunteers will do, what to bring, where to meet."),
        render_kw={"rows": 4},
    )
    address = StringField(
        _l("Place"),
        validators=[DataRequired(_l("Please enter the place.")), Length(max=200), PlainText()],
    )
    latitude = FloatField(_l("Latitude (optional)"), validators=[Optional()])
    longitude = FloatField(_l("Longitude (optional)"), validators=[Optional()])
    area_id = SelectField(
        _l("Town or community served"),
        description=_l("Volunteers nearby see the event first."),
        validators=[Optional()],
    )
    contact_name = StringField(_l("Contact person"), validators=[Length(max=50), PlainText()])
    contact_phone = StringField(
        _l("Contact phone"),
        validators=[Length(max=20)],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    min_age = IntegerField(_l("Minimum age (optional)"), validators=[Optional()])
    adults_only = BooleanField(_l("Adults (18 and over) only"))
    party_only = BooleanField(_l("Party members only"))
    team_only = BooleanField(_l("Members of the host's volunteer teams only"))
    dangerous = BooleanField(_l("Hazardous work / not suitable for minors"))
    visibility = RadioField(
        _l("Who can see the event"),
        choices=[SelectChoice(k, v) for k, v in VISIBILITY_LABELS.items()],
        default=Visibility.PUBLIC.value,
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.area_id.choices = area_choices()

    @classmethod
    def for_event(cls, event: Event, **kwargs) -> EventForm:
        """The form filled with the event's present details."""
        data = {name: getattr(event, name) for name in vars(EventFields("", "", ""))}
        data["area_id"] = str(event.area_id or "")
        data["visibility"] = event.visibility.value
        return cls(data=data, **kwargs)

    def validate_contact_phone(self, field) -> None:
        if field.data and not re.fullmatch(r"[0-9+\- ]{5,20}", field.data.strip()):
            raise ValidationError(_l("Please enter a phone number (digits and dashes)."))

    def event_fields(self) -> EventFields:
        return EventFields(
            title=self.title.data or "",
            category=self.category.data or "",
            address=self.address.data or "",
            description=self.description.data or "",
            area_id=_optional_id(self.area_id.data),
            contact_name=self.contact_name.data or "",
            contact_phone=(self.contact_phone.data or "").strip(),
            latitude=self.latitude.data,
            longitude=self.longitude.data,
            min_age=self.min_age.data,
            adults_only=self.adults_only.data,
            party_only=self.party_only.data,
            team_only=self.team_only.data,
            dangerous=self.dangerous.data,
            visibility=Visibility(self.visibility.data or Visibility.PUBLIC.value),
        )


class NewEventForm(EventForm):
    host = SelectField(
        _l("Hosted by"),
        description=_l("The unit that runs the event; its organisers can manage it."),
        validators=[DataRequired(_l("Please choose the host."))],
    )
    submit = SubmitField(_l("Save as draft"))

    def __init__(self, actor: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.host.choices = host_choices(actor)


# ---------------------------------------------------------------- shifts


class ShiftForm(FlaskForm):
    """A shift, with its times as typed in local time."""

    post = StringField(
        _l("Post"),
        description=_l("e.g. Traffic guidance at the east gate"),
        validators=[DataRequired(_l("Please name the post.")), Length(max=60), PlainText()],
    )
    duties = TextAreaField(_l("Duties"), render_kw={"rows": 2})
    day = DateField(_l("Date"), validators=[InputRequired(_l("Please choose the date."))])
    start = TimeField(_l("Starts at"), validators=[InputRequired(_l("Please enter the times."))])
    end = TimeField(_l("Ends at"), validators=[InputRequired(_l("Please enter the times."))])
    capacity = IntegerField(
        _l("Places"), validators=[InputRequired(_l("Please enter the number of places."))]
    )
    waitlist_enabled = BooleanField(_l("Waitlist when full"), default=True)
    waitlist_limit = IntegerField(
        _l("Waitlist length"), default=10, validators=[InputRequired(_l("Please enter a number."))]
    )
    signup_opens_days = IntegerField(
        _l("Sign-up opens (days before)"),
        default=7,
        description=_l("Leave empty to open sign-up on publishing."),
        validators=[Optional()],
    )
    cancel_deadline_hours = IntegerField(
        _l("Volunteers may cancel until (hours before)"),
        default=2,
        validators=[InputRequired(_l("Please enter a number."))],
    )
    checkin_opens_minutes = IntegerField(
        _l("Check-in opens (minutes before)"),
        default=30,
        validators=[
            InputRequired(_l("Please enter a number.")),
            NumberRange(0, 1440, _l("Between 0 and 1440 minutes.")),
        ],
    )
    checkin_closes_minutes = IntegerField(
        _l("Check-in closes (minutes after the start)"),
        default=30,
        validators=[
            InputRequired(_l("Please enter a number.")),
            NumberRange(0, 1440, _l("Between 0 and 1440 minutes.")),
        ],
    )
    lead_ids = SelectMultipleField(
        _l("Leads (check-in)"),
        coerce=int,
        description=_l("Hold Ctrl (or ⌘) to choose several."),
        validators=[Optional()],
        render_kw={"size": 4},
    )
    submit = SubmitField(_l("Add shift"))

    def __init__(self, actor: User, *args, keep_leads: Iterable[User] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.lead_ids.choices = lead_choices(actor, keep_leads)

    @classmethod
    def for_shift(cls, actor: User, shift: Shift, **kwargs) -> ShiftForm:
        """The form filled with the shift's present values, in local time."""
        start, end = to_local(shift.starts_at), to_local(shift.ends_at)
        days = None
        if shift.signup_opens_at is not None:
            days = (shift.starts_at - shift.signup_opens_at).days
        data = {
            name: getattr(shift, name)
            for name in (
                "post",
                "duties",
                "capacity",
                "waitlist_enabled",
                "waitlist_limit",
                "cancel_deadline_hours",
                "checkin_opens_minutes",
                "checkin_closes_minutes",
            )
        }
        data.update(
            day=start.date(),
            start=start.time().replace(tzinfo=None),
            end=end.time().replace(tzinfo=None),
            signup_opens_days=days,
            lead_ids=[lead.user_id for lead in shift.leads],
        )
        return cls(actor, data=data, keep_leads=[lead.user for lead in shift.leads], **kwargs)

    def shift_fields(self) -> ShiftFields:
        start = from_local(datetime.combine(self.day.data, self.start.data))
        end = from_local(datetime.combine(self.day.data, self.end.data))
        return ShiftFields(
            post=self.post.data or "",
            duties=self.duties.data or "",
            starts_at=start,
            ends_at=end,
            capacity=self.capacity.data,
            waitlist_enabled=self.waitlist_enabled.data,
            waitlist_limit=self.waitlist_limit.data,
            signup_opens_days=self.signup_opens_days.data,
            cancel_deadline_hours=self.cancel_deadline_hours.data,
            checkin_opens_minutes=self.checkin_opens_minutes.data,
            checkin_closes_minutes=self.checkin_closes_minutes.data,
            lead_ids=list(self.lead_ids.data or []),
        )


# ---------------------------------------------------------------- actions


class ActionForm(FlaskForm):
    """A button that carries only the CSRF token (publish)."""

    submit = SubmitField()


class CancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (sent to the volunteers)"),
        validators=[DataRequired(_l("Please give a reason.")), Length(max=200)],
        render_kw={"rows": 2, "maxlength": 200},
    )
    submit = SubmitField(_l("Cancel the event"))


class CancelShiftForm(FlaskForm):
    reason = StringField(
        _l("Reason (sent to the volunteers)"),
        validators=[DataRequired(_l("Please give a reason.")), Length(max=200)],
        render_kw={"maxlength": 200},
    )
    submit = SubmitField(_l("Cancel the shift"))


class CopyForm(FlaskForm):
    day = DateField(
        _l("New date of the first shift"),
        validators=[InputRequired(_l("Please choose the date."))],
    )
    submit = SubmitField(_l("Copy"))

    def offset_for(self, event: Event) -> timedelta:
        """How far the copy moves: the new date minus the first shift's local date."""
        if event.starts_at is None:
            return timedelta(0)
        return timedelta(days=(self.day.data - to_local(event.starts_at).date()).days)


DATE_SPLIT = re.compile(r"[\s,，、;；]+")


class RepeatForm(FlaskForm):
    weekly = IntegerField(
        _l("Every week, this many more times"),
        validators=[Optional(), NumberRange(1, 52, _l("Between 1 and 52 times."))],
    )
    dates = TextAreaField(
        _l("Or on these dates"),
        description=_l("YYYY-MM-DD, separated by commas or one per line."),
        render_kw={"rows": 3, "placeholder": "2026-05-09, 2026-05-16"},
    )
    submit = SubmitField(_l("Repeat"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed_dates: list[date] = []

    def validate_dates(self, field) -> None:
        parsed: list[date] = []
        for part in DATE_SPLIT.split(field.data or ""):
            if not part:
                continue
            try:
                parsed.append(date.fromisoformat(part))
            except ValueError:
                # str(): a lazy string counts as safe HTML in templates; the value is not.
                raise ValidationError(
                    str(_l("“%(value)s” is not a date like 2026-05-09.", value=part))
                ) from None
        self.parsed_dates = parsed


# ---------------------------------------------------------------- roster


class AddVolunteerForm(FlaskForm):
    q = StringField(
        _l("Mobile number or real name"),
        validators=[DataRequired(_l("Please enter a mobile number or a name.")), Length(max=50)],
        render_kw={"autocomplete": "off"},
    )
    reason = StringField(
        _l("Reason (recorded in the audit log)"),
        validators=[DataRequired(_l("Please give a reason.")), Length(max=200)],
        render_kw={"maxlength": 200},
    )
    user = RadioField(_l("Choose the volunteer"), coerce=int, choices=[], validators=[Optional()])
    submit = SubmitField(_l("Add to the shift"))


class RemoveForm(FlaskForm):
    reason = StringField(
        _l("Reason (sent to the volunteer)"),
        validators=[DataRequired(_l("Please give a reason.")), Length(max=200)],
        render_kw={"maxlength": 200},
    )
    submit = SubmitField(_l("Remove"))
