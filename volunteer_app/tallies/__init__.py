"""Tallies: service-hour figures by area, Party branch and host — the feature package.

- `operations`: an approved ledger row entered into every tally row it counts in, in the
  transaction that approves it (`apply_to_tallies`).
- `rebuild`: the tables rebuilt in bulk from the ledger and checked against it
  (`flask tallies rebuild` / `verify`).
- `periods`: months, quarters, years and custom ranges, and their period keys.
- `queries`: the figures of a node for a period; `rankings`: breakdowns and leaderboards.
- `blueprint` + `views`: the figures pages; `presenters`: their tables and labels.
"""

from .operations import apply_to_tallies, is_month_key, period_keys
from .periods import DIMENSIONS, Period, period_for, quarter_period, whole_period_key
from .queries import Figures, figures
from .rankings import (
    MemberQuarter,
    by_category,
    children,
    dual_report,
    first_month,
    monthly,
    person_minutes,
    star_counts,
    top_volunteers,
)
from .rebuild import rebuild_tallies, verify_tallies

__all__ = [
    "DIMENSIONS",
    "Figures",
    "MemberQuarter",
    "Period",
    "apply_to_tallies",
    "by_category",
    "children",
    "dual_report",
    "figures",
    "first_month",
    "is_month_key",
    "monthly",
    "period_for",
    "period_keys",
    "person_minutes",
    "quarter_period",
    "rebuild_tallies",
    "star_counts",
    "top_volunteers",
    "verify_tallies",
    "whole_period_key",
]
