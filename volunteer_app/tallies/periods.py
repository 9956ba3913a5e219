"""Reporting periods: a month, a quarter, a year or a custom range of days, and the tally
tables' period keys for whole ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

DIMENSIONS = ("area", "party", "host")
#: The months of "all time" (every service date the ledger can hold).
ALL_FIRST, ALL_LAST = 190001, 299912


def _month_of(day: date) -> int:
    return day.year * 100 + day.month


def _month_start(yyyymm: int) -> date:
    return date(yyyymm // 100, yyyymm % 100, 1)


def _next_month(yyyymm: int) -> int:
    year, month = divmod(yyyymm, 100)
    return (year + 1) * 100 + 1 if month == 12 else yyyymm + 1


@dataclass(frozen=True)
class Period:
    """Months yyyymm .. yyyymm, inclusive. A custom range counts exact days: `start_day`
    and `end_day` (inclusive) may fall inside its first and last month, whose parts are
    then summed from the ledger while the whole months between come from the tallies."""

    first: int
    last: int
    kind: str  # month | quarter | year | custom | all
    start_day: date | None = None
    end_day: date | None = None

    @property
    def start_date(self) -> date:
        return self.start_day or _month_start(self.first)

    @property
    def end_date(self) -> date:
        """The day after the period."""
        if self.end_day is not None:
            return self.end_day + timedelta(days=1)
        return _month_start(_next_month(self.last))

    def whole_months(self) -> tuple[int, int] | None:
        """The first and last month lying wholly inside the period, if any."""
        first = _month_of(self.start_date)
        if self.start_date.day != 1:
            first = _next_month(first)
        last = _month_of(self.end_date - timedelta(days=1))
        if self.end_date.day != 1:
            last = _month_of(_month_start(last) - timedelta(days=1))
        return (first, last) if first <= last else None

    def edges(self) -> list[tuple[date, date]]:
        """The days [from, to) of the period outside its whole months (none for whole
        months): counted from the ledger itself."""
        whole = self.whole_months()
        if whole is None:
            return [(self.start_date, self.end_date)]
        out = []
        if self.start_date < _month_start(whole[0]):
            out.append((self.start_date, _month_start(whole[0])))
        if _month_start(_next_month(whole[1])) < self.end_date:
            out.append((_month_start(_next_month(whole[1])), self.end_date))
        return out

    def months(self) -> list[int]:
        out, year, month = [], self.first // 100, self.first % 100
        while year * 100 + month <= self.last:
            out.append(year * 100 + month)
            month += 1
            if month > 12:
                year, month = year + 1, 1
        return out


def period_for(
    kind: str, today: date, start: date | None = None, end: date | None = None
) -> Period:
    """This month, this quarter, this year, all time, or a custom range of exact days."""
    if kind == "month":
        ym = today.year * 100 + today.month
        return Period(ym, ym, "month")
    if kind == "quarter":
        first_month = (today.month - 1) // 3 * 3 + 1
        return Period(today.year * 100 + first_month, today.year * 100 + first_month + 2, "quarter")
    if kind == "all":
        return Period(ALL_FIRST, ALL_LAST, "all")
    if kind == "custom" and start and end and start <= end:
        return Period(_month_of(start), _month_of(end), "custom", start, end)
    return Period(today.year * 100 + 1, today.year * 100 + 12, "year")


def whole_period_key(period: Period) -> int | None:
    """The tally_people key covering exactly this period, if there is one."""
    if period.edges() or period.kind == "all":
        return None
    year, first_month = divmod(period.first, 100)
    last_year, last_month = divmod(period.last, 100)
    if year != last_year:
        return None
    if first_month == last_month:
        return period.first
    if first_month == 1 and last_month == 12:
        return year * 100
    if last_month == first_month + 2 and first_month in (1, 4, 7, 10):
        return year * 100 + 20 + (first_month - 1) // 3 + 1
    return None


def quarter_period(year: int, quarter: int) -> Period:
    first = year * 100 + (quarter - 1) * 3 + 1
    return Period(first, first + 2, "quarter")
