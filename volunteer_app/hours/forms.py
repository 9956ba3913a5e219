"""Forms of the hours pages. They turn what a person typed into the services' arguments;
every rule about the values (limits, reasons, scope) stays in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..catalog import CATEGORIES
from ..forms import FlaskForm, PlainText, host_choices
from ..models import User
from ..query import QueryForm

#: The largest correction of one record, in minutes (a record is at most a day's service).
MAX_DELTA = 24 * 60


class AskForm(FlaskForm):
    """A volunteer asks for a record to be corrected."""

    message = TextAreaField(
        _l("What is wrong with this record?"),
        validators=[
            DataRequired(_l("Please say what should be corrected.")),
            Length(max=1000, message=_l("Please write at most 1000 characters.")),
        ],
        render_kw={"rows": 3, "maxlength": 1000},
    )
    submit = SubmitField(_l("Send the request"))


class CertificateForm(QueryForm):
    """The period of a certificate (a GET form: no CSRF token)."""

    start = DateField(
        _l("First day"), validators=[InputRequired(_l("Please choose the first day."))]
    )
    end = DateField(_l("Last day"), validators=[InputRequired(_l("Please choose the last day."))])
    submit = SubmitField(_l("Download the certificate (PDF)"))


class CorrectionForm(FlaskForm):
    """An organiser adds or removes minutes to an approved record."""

    delta = IntegerField(
        _l("Change in minutes (+ adds, − removes)"),
        validators=[
            InputRequired(_l("Please enter the change in minutes.")),
            NumberRange(min=-MAX_DELTA, max=MAX_DELTA, message=_l("At most 24 hours either way.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(_l("Please give a reason.")), Length(max=300)],
        render_kw={"maxlength": 300},
    )
    submit = SubmitField(_l("Add the correction"))


class AnswerForm(FlaskForm):
    """An organiser answers a correction request, optionally with a correction."""

    answer = TextAreaField(
        _l("Answer to the volunteer"),
        validators=[DataRequired(_l("Please write an answer.")), Length(max=1000)],
        render_kw={"rows": 2, "maxlength": 1000},
    )
    delta = IntegerField(
        _l("Correction in minutes (optional; the answer is its reason)"),
        validators=[
            Optional(),
            NumberRange(min=-MAX_DELTA, max=MAX_DELTA, message=_l("At most 24 hours either way.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    submit = SubmitField(_l("Answer"))


class ManualForm(FlaskForm):
    """Service done off the platform, entered by an organiser with a reason."""

    q = StringField(
        _l("Volunteer: mobile number or real name"),
        validators=[DataRequired(_l("Please enter a mobile number or a name.")), Length(max=50)],
        render_kw={"autocomplete": "off"},
    )
    user = RadioField(_l("Choose the volunteer"), coerce=int, choices=[], validators=[Optional()])
    host = SelectField(
        _l("Recorded by (unit)"),
        description=_l("The unit the service was done for; its organisers approve the record."),
        validators=[DataRequired(_l("Please choose the unit."))],
    )
    activity = StringField(
        _l("Activity"),
        validators=[DataRequired(_l("Please name the activity.")), Length(max=100), PlainText()],
        render_kw={"maxlength": 100},
    )
    service_date = DateField(
        _l("Date of the service"), validators=[InputRequired(_l("Please choose the date."))]
    )
    hours = IntegerField(
        _l("Hours"),
        default=0,
        validators=[InputRequired(_l("Please enter the time.")), NumberRange(min=0, max=24)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 24},
    )
    minutes = IntegerField(
        _l("Minutes"),
        default=0,
        validators=[InputRequired(_l("Please enter the time.")), NumberRange(min=0, max=59)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 59},
    )
    place = StringField(
        _l("Place"), validators=[Length(max=200), PlainText()], render_kw={"maxlength": 200}
    )
    content = TextAreaField(
        _l("Service content"), validators=[Length(max=300)], render_kw={"rows": 2}
    )
    category = SelectField(_l("Category"), default="other")
    reason = StringField(
        _l("Reason for the manual record"),
        description=_l("e.g. Service before the platform started; paper sign-in sheet"),
        validators=[Length(max=300)],
        render_kw={"maxlength": 300},
    )
    submit = SubmitField(_l("Save (awaits approval)"))

    def __init__(self, actor: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.host.choices = host_choices(actor)
        self.category.choices = [SelectChoice(code, label) for code, label in CATEGORIES.items()]

    @property
    def total_minutes(self) -> int:
        return (self.hours.data or 0) * 60 + (self.minutes.data or 0)
