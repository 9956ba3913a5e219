"""Forms for the org trees, role grants and the audit log."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..catalog import ROLE_LABELS
from ..extensions import db
from ..forms import FlaskForm, PhoneField, PlainText
from ..models import OrgUnit
from ..query import QueryForm
from ..services.accounts import find_user


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
