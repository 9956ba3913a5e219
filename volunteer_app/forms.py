"""What every form of the app shares: WTForms' own messages in the user's language from
the app's catalog, the mobile-number field, and the validator that keeps control and
invisible characters out of names and titles."""

from __future__ import annotations

from flask_babel import get_domain
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm as _FlaskForm
from flask_wtf.i18n import translations as _wtforms_translations
from sqlalchemy import select
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from .extensions import db
from .models import OrgKind, OrgUnit, User
from .services.accounts import normalise_phone
from .services.text import has_forbidden


class _Translations:
    """WTForms' built-in messages ("Not a valid choice.", "This field is required." …):
    the app's catalog first (msgids listed in _wtforms_messages below), WTForms' own
    catalog for anything it does not have."""

    def gettext(self, string: str) -> str:
        ours = get_domain().get_translations().ugettext(string)
        return ours if ours != string else _wtforms_translations.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        ours = get_domain().get_translations().ungettext(singular, plural, n)
        if ours not in (singular, plural):
            return ours
        return _wtforms_translations.ngettext(singular, plural, n)


TRANSLATIONS = _Translations()


class FlaskForm(_FlaskForm):
    """flask_wtf's FlaskForm with WTForms' messages from the app's catalog: every form
    of the app derives from this one, so no English default message reaches a page."""

    class Meta(_FlaskForm.Meta):
        def get_translations(self, form):
            return TRANSLATIONS


class PhoneField(StringField):
    """A mobile number; spaces, dashes and a +86 prefix are accepted and removed."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        self.data = normalise_phone(self.data)


class PlainText:
    """No control characters, bidirectional overrides or zero-width characters (a name,
    a title, a place); `multiline` allows line breaks and tabs."""

    def __init__(self, multiline: bool = False, message=None):
        self.multiline = multiline
        self.message = message

    def __call__(self, form, field) -> None:
        if isinstance(field.data, str) and has_forbidden(field.data, multiline=self.multiline):
            raise ValidationError(
                self.message
                or _l(
                    "Please remove the control or invisible characters (they may come with "
                    "copied text) from this field."
                )
            )


def _wtforms_messages() -> None:  # pragma: no cover - read by the message extractor only
    """WTForms' default messages, so that `tools/i18n.py update` puts them in the catalog
    (the plural ones, on lengths, come from WTForms' own catalog: the tools fill no plural
    forms)."""
    from flask_babel import gettext as _

    _("Not a valid choice.")
    _("Invalid Choice: could not coerce.")
    _("Invalid choice(s): one or more data inputs could not be coerced.")
    _("Choices cannot be None.")
    _("This field is required.")
    _("Invalid input.")
    _("This field is disabled and cannot have a value.")
    _("Not a valid integer value.")
    _("Not a valid decimal value.")
    _("Not a valid float value.")
    _("Not a valid date value.")
    _("Not a valid datetime value.")
    _("Not a valid time value.")
    _("Not a valid week value.")
    _("Field must be between %(min)d and %(max)d characters long.")
    _("Number must be at least %(min)s.")
    _("Number must be at most %(max)s.")
    _("Number must be between %(min)s and %(max)s.")
    _("Date must be at least %(min)s.")
    _("Date must be at most %(max)s.")
    _("Date must be between %(min)s and %(max)s.")
    _("Field must be equal to %(other_name)s.")
    _("Invalid email address.")
    _("Invalid URL.")
    _("File does not have an approved extension.")


#: The kinds of org unit that host events, as the groups of the host choice.
KIND_GROUPS = {
    OrgKind.AREA: _l("Area units"),
    OrgKind.ORGANISER: _l("Organisers, stations and teams"),
}


def host_choices(actor: User) -> list[SelectChoice]:
    """The actor's in-scope organiser and area nodes (not Party ones), grouped by kind."""
    from .permissions import organised_nodes

    nodes = db.session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.active.is_(True),
            OrgUnit.kind.in_(list(KIND_GROUPS)),
            organised_nodes.visible(actor),
        )
        .order_by(OrgUnit.path)
    ).all()
    top = min((n.depth for n in nodes), default=0)
    return [
        SelectChoice(str(n.id), "　" * (n.depth - top) + n.name, optgroup=str(KIND_GROUPS[n.kind]))
        for kind in KIND_GROUPS
        for n in nodes
        if n.kind is kind
    ]
