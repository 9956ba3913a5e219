"""Forms for the org trees, role grants and the audit log."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..auth.forms import PhoneField
from ..extensions import db
from ..forms import FlaskForm, PlainText
from ..models import OrgUnit, Role
from ..query import QueryForm
from ..services.accounts import find_user

LEVEL_LABELS = {
    "district": _l("District"),
    "town": _l("Town / subdistrict"),
    "community": _l("Community / village"),
    "party_root": _l("District Party committee"),
    "party_committee": _l("Party committee"),
    "party_general_branch": _l("General Party branch"),
    "party_branch": _l("Party branch"),
    "organiser": _l("Organiser"),
    "practice_station": _l("Civilisation practice station"),
    "team": _l("Volunteer team"),
}

ROLE_LABELS = {
    Role.VOLUNTEER.value: _l("Volunteer"),
    Role.LEAD.value: _l("Event lead"),
    Role.ORGANISER.value: _l("Organiser"),
    Role.BRANCH_SECRETARY.value: _l("Party branch secretary"),
    Role.ADMIN.value: _l("District administrator"),
    Role.RECORDER.value: _l("National record officer"),
}


def node_choices(active_only: bool = True) -> list[SelectChoice]:
    """Every node, indented by depth, in tree order."""
    query = select(OrgUnit).order_by(OrgUnit.path)
    if active_only:
        query = query.where(OrgUnit.active.is_(True))
    return [SelectChoice(n.id, "　" * n.depth + n.name) for n in db.session.scalars(query)]


class NameForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Please enter a name.")), Length(max=100), PlainText()],
    )
    submit = SubmitField(_l("Rename"))


class AddChildForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Please enter a name.")), Length(max=100), PlainText()],
    )
    level = SelectField(_l("Kind of unit"), choices=[])
    submit = SubmitField(_l("Add unit"))


class MoveForm(FlaskForm):
    parent = SelectField(_l("New parent"), coerce=int, choices=[])
    submit = SubmitField(_l("Move"))


class ActionForm(FlaskForm):
    """A button that only carries the CSRF token."""

    submit = SubmitField()


class GrantForm(FlaskForm):
    phone = PhoneField(
        _l("Mobile number of the account"),
        validators=[DataRequired(_l("Please enter a mobile number."))],
    )
    role = SelectField(
        _l("Role"), choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()]
    )
    org_unit = SelectField(_l("On unit (covers everything below it)"), coerce=int, choices=[])
    submit = SubmitField(_l("Grant role"))

    def validate_phone(self, field) -> None:
        self.user = find_user(field.data)
        if self.user is None:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("No account has this mobile number."))


class AuditFilterForm(QueryForm):
    action = StringField(_l("Action"), validators=[Optional(), Length(max=60)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=16)])
    submit = SubmitField(_l("Search"))
