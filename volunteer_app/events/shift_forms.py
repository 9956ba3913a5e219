"""Organisers' forms: a shift, cancelling, copying, repeating, the roster (an event's
own form: events/forms.py).

The forms turn what a person typed (local Asia/Shanghai dates and times) into the
services' field objects (naive UTC); every rule about the values stays in the services.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..forms import FlaskForm, PlainText
from ..models import (
    Event,
    Shift,
    User,
)
from ..services.events import ShiftFields
from ..timeutil import from_local, to_local
from .forms import lead_choices

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
