"""Sign-up and member rosters as tables for a download (CSV or Excel): headers and rows,
numbers masked, times in local time."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import SignupStatus
from ..timeutil import to_local
from .rows import Roster

STATUS_LABELS = {
    SignupStatus.CONFIRMED.value: _l("Confirmed"),
    SignupStatus.WAITLISTED.value: _l("Waitlisted"),
    SignupStatus.ATTENDED.value: _l("Attended"),
    SignupStatus.NO_SHOW.value: _l("Did not come"),
    SignupStatus.CANCELLED.value: _l("Cancelled"),
}


def _local(moment: datetime | None) -> datetime | None:
    """A stored time as a naive local time (what a spreadsheet shows)."""
    return to_local(moment).replace(tzinfo=None, microsecond=0) if moment else None


def hm(minutes: int | None) -> str:
    """Minutes as h:mm (125 -> "2:05")."""
    minutes = int(minutes or 0)
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def signup_table(roster: Roster, *, with_shift: bool) -> tuple[list, list[list]]:
    """Headers and rows of a sign-up roster for a download. Numbers stay masked."""
    from ..catalog import POLITICAL_STATUS

    headers = [_l("No."), _l("Full name"), _l("Mobile number")]
    if with_shift:
        headers += [_l("Post"), _l("Shift starts")]
    headers += [
        _l("Community"),
        _l("Party branch"),
        _l("Political status"),
        _l("Teams"),
        _l("Status"),
        _l("Signed up at"),
        _l("Place on the waitlist"),
        _l("Checked in at"),
        _l("Checked out at"),
        _l("Credited time (minutes)"),
        _l("No-show"),
    ]
    rows = []
    for number, row in enumerate(roster.rows, start=roster.first_number):
        line: list = [number, row.name, row.masked_phone]
        if with_shift:
            line += [row.post, _local(row.shift_starts_at)]
        line += [
            row.community,
            row.branch,
            POLITICAL_STATUS.get(row.political_status, "") if row.political_status else "",
            "、".join(row.teams),
            STATUS_LABELS[row.status.value] if row.status else "",
            _local(row.signed_up_at),
            row.waitlist_position,
            _local(row.checked_in_at),
            _local(row.checked_out_at),
            row.credited_minutes if row.checked_out_at else None,
            _l("yes") if row.no_show else "",
        ]
        rows.append(line)
    return headers, rows


def node_table(roster: Roster) -> tuple[list, list[list]]:
    """Headers and rows of a node's member roster for a download. Numbers stay masked."""
    from ..catalog import POLITICAL_STATUS

    headers = [
        _l("No."),
        _l("Full name"),
        _l("Mobile number"),
        _l("Community"),
        _l("Party branch"),
        _l("Political status"),
        _l("Teams"),
        _l("Approved hours this year"),
    ]
    rows = [
        [
            number,
            row.name,
            row.masked_phone,
            row.community,
            row.branch,
            POLITICAL_STATUS.get(row.political_status, "") if row.political_status else "",
            "、".join(row.teams),
            round(row.approved_minutes / 60, 2),
        ]
        for number, row in enumerate(roster.rows, start=roster.first_number)
    ]
    return headers, rows
