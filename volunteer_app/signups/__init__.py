"""Sign-ups: the feature package.

- `transitions`: the state machine — the one table of allowed status moves and their
  counter changes, `transition()`, and `verify_counters()` (`flask shifts verify`).
- `operations`: sign up, cancel, promote, add by an organiser, expire a waitlist.
- `queries`: eligibility, waitlist positions, who may see an event.

The sign-up pages are in `events/` (the volunteer's) and `organise/` (the organiser's).
"""

from .operations import (
    SignupResult,
    active_signups,
    cancel,
    cancel_all,
    expire_waitlists,
    lock_shift,
    organiser_add,
    promote,
    sign_up,
)
from .queries import (
    ACTIVE,
    HoldPolicy,
    active_signup,
    can_see,
    no_show_hold_until,
    queue_time,
    refusal_reasons,
    team_ids_for,
    waitlist_position,
)
from .transitions import (
    TRANSITIONS,
    CounterProblem,
    InvalidTransition,
    Move,
    repair_counters,
    transition,
    transition_many,
    verify_counters,
)

__all__ = [
    "ACTIVE",
    "TRANSITIONS",
    "CounterProblem",
    "HoldPolicy",
    "InvalidTransition",
    "Move",
    "SignupResult",
    "active_signup",
    "active_signups",
    "can_see",
    "cancel",
    "cancel_all",
    "expire_waitlists",
    "lock_shift",
    "no_show_hold_until",
    "organiser_add",
    "promote",
    "queue_time",
    "refusal_reasons",
    "repair_counters",
    "sign_up",
    "team_ids_for",
    "transition",
    "transition_many",
    "verify_counters",
    "waitlist_position",
]
