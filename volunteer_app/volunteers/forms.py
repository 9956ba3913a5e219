"""Forms of the registration steps, the profile, teams, search and import."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..catalog import AVAILABILITY, CATEGORIES, ID_TYPES, POLITICAL_STATUS, SKILLS
from ..extensions import db
from ..forms import FlaskForm, PhoneField, PlainText
from ..models import Gender, OrgLevel, OrgUnit
from ..query import QueryForm
from ..services.identifiers import id_number as normalise_id_number


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _choices(mapping: dict) -> list[SelectChoice]:
    return [SelectChoice(str(getattr(k, "value", k)), label) for k, label in mapping.items()]


def grouped_nodes(level: OrgLevel, group_level: OrgLevel | None = None) -> list[SelectChoice]:
    """Active nodes of a level as select options, grouped under their town / committee."""
    nodes = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.level == level, OrgUnit.active.is_(True))
        .order_by(OrgUnit.path)
    ).all()
    parents: dict[int, str] = {}
    ids = {i for n in nodes for i in n.ancestor_ids[:-1]}
    if ids:
        query = select(OrgUnit.id, OrgUnit.name, OrgUnit.level).where(OrgUnit.id.in_(ids))
        for node_id, name, node_level in db.session.execute(query):
            if group_level is None or node_level == group_level:
                parents[node_id] = name
    choices = []
    for node in nodes:
        group = next((parents[i] for i in reversed(node.ancestor_ids[:-1]) if i in parents), "")
        choices.append(SelectChoice(str(node.id), node.name, optgroup=group or None))
    return choices


class IdNumberField(StringField):
    """An ID number, brought to its normal form before any check: full-width digits,
    spaces and dashes typed in between do not count towards the length."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        self.data = normalise_id_number(self.data)


class IdentityForm(FlaskForm):
    real_name = StringField(
        _l("Real name"),
        validators=[DataRequired(_l("Please enter your real name.")), Length(max=50), PlainText()],
        render_kw={"autocomplete": "name"},
    )
    id_type = SelectField(_l("ID type"), choices=_choices(ID_TYPES), default="resident")
    id_number = IdNumberField(
        _l("ID number"),
        validators=[DataRequired(_l("Please enter the ID number.")), Length(max=30)],
        description=_l("Your birth date and gender are read from a resident ID number."),
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 60},
    )
    gender = RadioField(
        _l("Gender (other ID types only)"),
        choices=[
            SelectChoice(Gender.MALE.value, _l("Male")),
            SelectChoice(Gender.FEMALE.value, _l("Female")),
        ],
        validators=[Optional()],
    )
    birth_date = DateField(_l("Birth date (other ID types only)"), validators=[Optional()])
    submit = SubmitField(_l("Save and continue"))


class ResidenceForm(FlaskForm):
    community = SelectField(
        _l("Community or village where you live"),
        validators=[DataRequired(_l("Please choose your community or village."))],
    )
    submit = SubmitField(_l("Save and continue"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.community.choices = [
            SelectChoice("", _l("— choose —")),
            *grouped_nodes(OrgLevel.COMMUNITY, OrgLevel.TOWN),
        ]


class PoliticsForm(FlaskForm):
    political_status = SelectField(
        _l("Political status"),
        choices=[SelectChoice("", _l("— choose —")), *_choices(POLITICAL_STATUS)],
        validators=[DataRequired(_l("Please choose your political status."))],
    )
    branch = SelectField(
        _l("Party branch (Party members)"),
        description=_l(
            "In-service Party members choose the branch of their workplace; the community "
            "where they live is recorded separately (双报到)."
        ),
        validators=[Optional()],
    )
    submit = SubmitField(_l("Save and continue"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.branch.choices = [
            SelectChoice("", _l("— choose —")),
            *grouped_nodes(OrgLevel.PARTY_BRANCH, OrgLevel.PARTY_COMMITTEE),
        ]


class DetailsForm(FlaskForm):
    categories = MultiCheckboxField(
        _l("Kinds of service you would like to do"), choices=_choices(CATEGORIES)
    )
    skills = MultiCheckboxField(_l("Skills"), choices=_choices(SKILLS))
    availability = MultiCheckboxField(
        _l("When you are usually free"), choices=_choices(AVAILABILITY)
    )
    emergency_name = StringField(
        _l("Emergency contact"),
        validators=[
            DataRequired(_l("Please name an emergency contact.")),
            Length(max=50),
            PlainText(),
        ],
    )
    emergency_phone = PhoneField(
        _l("Emergency contact's mobile number"),
        validators=[DataRequired(_l("Please enter a mobile number."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    submit = SubmitField(_l("Save and continue"))


class ConsentForm(FlaskForm):
    privacy = BooleanField(_l("I have read and agree to the privacy notice."))
    sensitive = BooleanField(
        _l(
            "I agree that my ID number is processed to verify my identity and to issue "
            "service certificates."
        )
    )
    guardian_name = StringField(
        _l("Guardian's name"), validators=[Optional(), Length(max=50), PlainText()]
    )
    guardian_phone = PhoneField(_l("Guardian's mobile number"), validators=[Optional()])
    guardian_consent = BooleanField(_l("My guardian agrees to my volunteering and to this notice."))
    submit = SubmitField(_l("Finish"))


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Your password"), validators=[DataRequired(_l("Please enter your password."))]
    )
    confirm = BooleanField(
        _l("I understand that my personal data will be erased and cannot be restored.")
    )
    submit = SubmitField(_l("Delete my account"))


class SearchForm(QueryForm):
    q = StringField(_l("Name or last digits of the phone"), validators=[Optional(), Length(max=50)])
    community = SelectField(_l("Community"), validators=[Optional()])
    political_status = SelectField(
        _l("Political status"),
        choices=[SelectChoice("", _l("All")), *_choices(POLITICAL_STATUS)],
        validators=[Optional()],
    )
    skill = SelectField(
        _l("Skill"),
        choices=[SelectChoice("", _l("All")), *_choices(SKILLS)],
        validators=[Optional()],
    )
    submit = SubmitField(_l("Search"))


class ImportForm(FlaskForm):
    file = FileField(
        _l("Roster file (.xlsx or .csv)"),
        validators=[FileRequired(_l("Please choose a file."))],
    )
    submit = SubmitField(_l("Check the file"))
