"""Filter forms of the tally pages (GET forms: no CSRF token, nothing is changed)."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from ..catalog import CATEGORIES, POLITICAL_STATUS
from ..query import QueryForm
from .periods import Period, period_for

#: The default is the last twelve months: "this month" on the 5th shows all zeros.
DEFAULT_PERIOD = "recent"
PERIODS = {
    "recent": _l("Last 12 months"),
    "month": _l("This month"),
    "quarter": _l("This quarter"),
    "year": _l("This year"),
    "all": _l("All time"),
    "custom": _l("Custom range (exact days)"),
}
#: At most this many months in a custom range (the trend chart stays readable).
MAX_MONTHS = 60


def _choices(mapping: dict) -> list[SelectChoice]:
    return [SelectChoice(str(getattr(k, "value", k)), label) for k, label in mapping.items()]


class FilterForm(QueryForm):
    period = SelectField(
        _l("Period"), choices=_choices(PERIODS), default=DEFAULT_PERIOD, validators=[Optional()]
    )
    start = DateField(_l("From (custom range)"), validators=[Optional()])
    end = DateField(_l("To (custom range)"), validators=[Optional()])
    category = SelectField(
        _l("Service category"),
        choices=[SelectChoice("", _l("All")), *_choices(CATEGORIES)],
        validators=[Optional()],
    )
    political = SelectField(
        _l("Political status"),
        choices=[SelectChoice("", _l("All")), *_choices(POLITICAL_STATUS)],
        validators=[Optional()],
    )
    submit = SubmitField(_l("Show"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.period.data == "custom":
            if not self.start.data or not self.end.data:
                self.start.errors = [*self.start.errors, _l("Please give both dates.")]
                ok = False
            elif self.start.data > self.end.data:
                self.end.errors = [*self.end.errors, _l("The end is before the start.")]
                ok = False
            elif _months_between(self.start.data, self.end.data) > MAX_MONTHS:
                self.end.errors = [
                    *self.end.errors,
                    _l("Choose at most %(n)d months.", n=MAX_MONTHS),
                ]
                ok = False
        return ok

    #: True when the filters asked for could not be used and the last 12 months are shown
    #: (the page says so above the form; the fields say why).
    fell_back = False

    def chosen_period(self, today: date) -> Period:
        """The period asked for; the last twelve months when the form is empty, and also
        (with `fell_back` set, which the page says) when it is invalid."""
        if not self.validate():
            self.fell_back = True
            return recent_months(today)
        kind = self.period.data or DEFAULT_PERIOD
        if kind == "recent":
            return recent_months(today)
        return period_for(kind, today, self.start.data, self.end.data)

    def filters(self) -> tuple[str | None, str | None]:
        """(category, political status) or None for "all"."""
        category = self.category.data if self.category.data in CATEGORIES else None
        political = self.political.data if self.political.data in POLITICAL_STATUS else None
        return category, political


def recent_months(today: date, months: int = 12) -> Period:
    """The last `months` whole months up to and including this one."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    first = (index // 12) * 100 + index % 12 + 1
    return Period(first, today.year * 100 + today.month, "recent")


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


class DualForm(QueryForm):
    """双报到 report: a year and a quarter."""

    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(2000, 2100)])
    quarter = SelectField(
        _l("Quarter"),
        choices=[SelectChoice(str(q), _l("Quarter %(q)d", q=q)) for q in (1, 2, 3, 4)],
        validators=[Optional()],
    )
    submit = SubmitField(_l("Show"))
