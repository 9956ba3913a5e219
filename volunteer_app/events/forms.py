"""Organisers' forms: an event and the event list's filter (a shift, cancelling, copying,
repeating and the roster: events/shift_forms.py).

The forms turn what a person typed (local Asia/Shanghai dates and times) into the
services' field objects (naive UTC); every rule about the values stays in the services.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
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
    SignupStatus,
    User,
    Visibility,
)
from ..query import QueryForm
from ..services.events import EventFields
from ..services.scope import path_filter

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
