"""Working days by the Chinese calendar: statutory holidays (放假) are not working days and
调休 weekends (上班) are, as volunteer_app/data/holidays.json lists them per year. A year the
file does not hold, or holds as not yet published, counts Monday to Friday."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "holidays.json"


@dataclass(frozen=True)
class Calendar:
    #: day -> the holiday's name
    holidays: dict[date, str]
    #: day -> the reason (a weekend worked as 调休)
    workdays: dict[date, str]
    #: Years whose official arrangement the file holds.
    published: frozenset[int]


def parse(raw: dict) -> Calendar:
    """The calendar from the file's JSON; ValueError for anything malformed (a range that
    runs backwards, a day in the wrong year, a day both a holiday and a working day)."""
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    published = set()
    for year_text, year in raw["years"].items():
        year_number = int(year_text)
        if year.get("published"):
            published.add(year_number)
        for first, last, name in year.get("holidays", []):
            start, end = date.fromisoformat(first), date.fromisoformat(last)
            if end < start or start.year != year_number:
                raise ValueError(f"holiday range {first}..{last} is not in {year_number}")
            day = start
            while day <= end:
                holidays[day] = name
                day += timedelta(days=1)
        for day_text, name in year.get("workdays", []):
            day = date.fromisoformat(day_text)
            if day.year != year_number:
                raise ValueError(f"working day {day_text} is not in {year_number}")
            workdays[day] = name
    both = set(holidays) & set(workdays)
    if both:
        raise ValueError(f"days both holiday and working day: {sorted(both)}")
    return Calendar(holidays, workdays, frozenset(published))


@cache
def calendar() -> Calendar:
    """The shipped calendar (read once per process)."""
    return parse(json.loads(DATA_FILE.read_text(encoding="utf-8")))


def is_working_day(day: date, cal: Calendar | None = None) -> bool:
    cal = cal or calendar()
    if day in cal.workdays:
        return True
    if day in cal.holidays:
        return False
    return day.weekday() < 5


def working_days_between(start: date, end: date, cal: Calendar | None = None) -> int:
    """Working days after `start` up to and including `end`."""
    cal = cal or calendar()
    if end <= start:
        return 0
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for i in range(1, rest + 1):
        if (start + timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    # Correct the Monday-to-Friday count by the listed days in the range (few per year).
    for day in cal.holidays:
        if start < day <= end and day.weekday() < 5:
            count -= 1
    for day in cal.workdays:
        if start < day <= end and day.weekday() >= 5:
            count += 1
    return count


def is_published(year: int) -> bool:
    return year in calendar().published
