"""Check-in at the sites: the feature package.

- `scans`: a lead's scan (a code, a card number, a roster pick), judged and applied.
- `sync`: a volunteer's self check-in by site code; the offline queue's batch.
- `operations`: walk-ins, corrections, no-shows, closing attendances left open.
- `queries`: who leads a shift, its scan window, whose code a token is, counts, credited time.
- `results`: the policy knobs, a scan's result and the refusal texts.
- `blueprint` + `views`: the lead's scanner, the volunteer's code, the site code pages.

A sign-up's status changes only through `signups.transition` (checking in a no-show holds
the place again).
"""

from .locks import shift_held
from .operations import close_unclosed, correct, mark_no_shows, walk_in
from .queries import (
    CARD_NUMBER_RE,
    card_number_id,
    counts,
    credited_minutes,
    effective_time,
    is_open,
    open_shifts_led_by,
    shifts_led_by,
    volunteer_for,
    window,
)
from .results import (
    MAX_CLOCK_SKEW,
    MAX_QUEUE_AGE,
    OFFLINE_CODE_SKEW,
    OFFLINE_ONLINE_GRACE,
    Policy,
    ScanResult,
)
from .scans import scan
from .sync import self_scan, sync

__all__ = [
    "CARD_NUMBER_RE",
    "MAX_CLOCK_SKEW",
    "MAX_QUEUE_AGE",
    "OFFLINE_CODE_SKEW",
    "OFFLINE_ONLINE_GRACE",
    "Policy",
    "ScanResult",
    "card_number_id",
    "close_unclosed",
    "correct",
    "counts",
    "credited_minutes",
    "effective_time",
    "is_open",
    "mark_no_shows",
    "open_shifts_led_by",
    "scan",
    "self_scan",
    "shift_held",
    "shifts_led_by",
    "sync",
    "volunteer_for",
    "walk_in",
    "window",
]
