"""Service hours: the feature package.

- `operations`: the ledger's writes — records from confirmed shifts, manual and correction
  records, approvals (each entering the tallies in the same transaction), and a volunteer's
  correction requests and their answers.
- `queries`: star levels, approved minutes, working days and overdue records, scoped reads
  for the organiser's pages.
- `blueprint` + `views_volunteer` (my hours, certificate, public verification),
  `views_lead` (a shift's hours) and `views_organiser` (approvals, records, manual records,
  correction requests).
"""

from .operations import add_correction, add_manual, confirm_shift, decide
from .queries import (
    OVERDUE_WORKING_DAYS,
    STAR_HOURS,
    Stars,
    approved_minutes,
    approved_minutes_of,
    is_overdue,
    stars_for,
    working_days_between,
)
from .requests import answer_request, ask_correction

__all__ = [
    "OVERDUE_WORKING_DAYS",
    "STAR_HOURS",
    "Stars",
    "add_correction",
    "add_manual",
    "answer_request",
    "approved_minutes",
    "approved_minutes_of",
    "ask_correction",
    "confirm_shift",
    "decide",
    "is_overdue",
    "stars_for",
    "working_days_between",
]
