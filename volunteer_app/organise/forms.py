"""The workspace's forms: roster filters, paper times, messages, small action buttons."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectField, SubmitField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..forms import FlaskForm
from ..models import SignupStatus
from ..query import QueryForm
from ..services.messages import MAX_LENGTH

SIGNUP_SORT_LABELS = {
    "status": _l("Status"),
    "name": _l("Full name"),
    "signup": _l("Time of sign-up"),
    "community": _l("Community"),
}
NODE_SORT_LABELS = {
    "name": _l("Full name"),
    "community": _l("Community"),
    "hours": _l("Hours this year"),
}
#: The roster's status filter (no-shows are kept under their own entry).
STATUS_FILTERS = {
    "active": (
        _l("Signed up (not cancelled)"),
        (
            SignupStatus.CONFIRMED,
            SignupStatus.WAITLISTED,
            SignupStatus.ATTENDED,
            SignupStatus.NO_SHOW,
        ),
    ),
    "confirmed": (_l("Confirmed"), (SignupStatus.CONFIRMED,)),
    "waitlisted": (_l("Waitlisted"), (SignupStatus.WAITLISTED,)),
    "attended": (_l("Attended"), (SignupStatus.ATTENDED,)),
    "no_show": (_l("Did not come"), (SignupStatus.NO_SHOW,)),
    "cancelled": (_l("Cancelled"), (SignupStatus.CANCELLED,)),
}


class SignupFilterForm(QueryForm):
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("All")),
            *(SelectChoice(k, label) for k, (label, _s) in STATUS_FILTERS.items()),
        ],
        validators=[Optional()],
    )
    community = SelectField(_l("Community"), coerce=str, choices=[], validators=[Optional()])
    sort = SelectField(
        _l("Sort by"),
        choices=[SelectChoice(k, v) for k, v in SIGNUP_SORT_LABELS.items()],
        validators=[Optional()],
    )
    page = IntegerField(validators=[Optional()])
    submit = SubmitField(_l("Show"))

    def statuses(self) -> tuple[SignupStatus, ...]:
        return STATUS_FILTERS.get(self.status.data or "", ("", ()))[1]


class NodeFilterForm(QueryForm):
    community = SelectField(_l("Community"), coerce=str, choices=[], validators=[Optional()])
    sort = SelectField(
        _l("Sort by"),
        choices=[SelectChoice(k, v) for k, v in NODE_SORT_LABELS.items()],
        validators=[Optional()],
    )
    page = IntegerField(validators=[Optional()])
    submit = SubmitField(_l("Show"))


def community_choices(form, communities: list[tuple[int, str]]) -> None:
    form.community.choices = [
        SelectChoice("", _l("All")),
        *(SelectChoice(str(cid), name) for cid, name in communities),
    ]


#: Ids beyond a 32-bit integer cannot exist (and PostgreSQL refuses to compare with them).
MAX_ID = 2**31 - 1


def chosen_id(value: str | None) -> int | None:
    """The id typed in a filter or hidden field, or None when it is not a possible id."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


class ActionForm(FlaskForm):
    """A button that carries only the CSRF token (show full numbers)."""

    submit = SubmitField()


class PaperTimesForm(FlaskForm):
    signup = HiddenField(validators=[InputRequired()])
    checked_in = TimeField(
        _l("Check-in time (from the sheet)"),
        validators=[InputRequired(_l("Please give the check-in time from the sheet."))],
    )
    checked_out = TimeField(_l("Check-out time (if written)"), validators=[Optional()])
    submit = SubmitField(_l("Save the paper times"))


class MessageForm(FlaskForm):
    text = TextAreaField(
        _l("Message"),
        validators=[
            DataRequired(_l("Please write the message.")),
            Length(max=MAX_LENGTH, message=_l("At most %(max)d characters.")),
        ],
        render_kw={"rows": 4, "maxlength": MAX_LENGTH},
    )
    message_id = HiddenField()
    preview = SubmitField(_l("Preview"))
    send = SubmitField(_l("Send to the volunteers"))
