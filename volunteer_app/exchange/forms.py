"""Forms of the national-record pages: a batch's range and unit, the import file, and the
volunteer's national number."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..forms import FlaskForm
from ..models import OrgUnit


class BatchForm(FlaskForm):
    """The range and unit of a new export batch."""

    scope = SelectField(_l("Unit"), coerce=int)
    start = DateField(
        _l("First day"), validators=[InputRequired(_l("Please choose the first day."))]
    )
    end = DateField(_l("Last day"), validators=[InputRequired(_l("Please choose the last day."))])
    submit = SubmitField(_l("Create the batch"))

    def __init__(self, nodes: list[OrgUnit], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope.choices = [SelectChoice(n.id, n.name) for n in nodes]


class ImportForm(FlaskForm):
    file = FileField(
        _l("File exported from the national system (.xlsx or CSV)"),
        validators=[FileRequired(_l("Please choose a file."))],
    )
    submit = SubmitField(_l("Import"))


class NationalNumberForm(FlaskForm):
    number = StringField(
        _l("National volunteer number (志愿者统一编号)"),
        validators=[Optional(), Length(max=64, message=_l("At most 64 characters."))],
        render_kw={"autocomplete": "off", "maxlength": 64},
    )
    submit = SubmitField(_l("Save"))
