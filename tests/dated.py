"""The tests whose outcome turns on the calendar: today's weekday, the hour, the month and
year boundaries, the local (Qingdao) date against the UTC date.

`make test` runs them again on each moved clock of the Makefile's DATES (VOLUNTEER_CLOCK):
a Friday 23:30 in Qingdao, a Friday 23:30 UTC (already Saturday 07:30 in Qingdao), a
Saturday, a Sunday evening, the last evening of a month and of a year. conftest.py marks
them `dated`; tests/test_clock.py checks that every name here still names a test.
"""

from __future__ import annotations

DATED: dict[str, tuple[str, ...]] = {
    "test_clock": ("*",),
    "test_event_pages": ("*",),  # the list's today / weekend / week windows, deadlines
    "test_signups": (
        "test_a_full_shift_puts_the_signup_on_the_waitlist_with_its_position",
        "test_a_cancellation_promotes_the_first_waitlisted_and_tells_them",
        "test_sign_up_not_open_yet",
        "test_shift_started_or_ended",
        "test_under_age_and_adults_only",
        "test_self_cancel_closes_at_the_deadline_but_the_organiser_can",
        "test_repeated_no_shows_hold_the_volunteer_to_the_waitlist",
    ),
    "test_jobs": (
        "test_two_hour_reminder_for_a_shift_starting_in_90_minutes_runs_once",
        "test_day_before_reminder_in_the_20_to_28_hour_window",
        "test_thanks_after_the_shift_with_credited_time",
        "test_no_shows_are_marked_once_check_in_has_closed",
        "test_waitlists_expire_when_the_shift_starts",
        "test_unclosed_attendance_is_closed_by_the_job",
    ),
    "test_hours_pages": (
        "test_a_volunteer_who_moves_community_keeps_past_records_where_earned",
        "test_approving_updates_the_volunteers_total_and_the_tallies",
        "test_a_pending_record_is_overdue_after_ten_working_days_weekends_skipped",
        "test_the_approvals_page_counts_overdue_records_and_lists_them_first",
        "test_my_hours_lists_records_totals_stars_corrections_and_training",
    ),
    "test_tallies": (
        "test_period_for_month_quarter_year_and_custom_boundaries",
        "test_custom_period_on_the_page_and_a_reversed_range_is_refused",
        "test_a_registration_on_the_boundary_counts_in_one_period_only",
        "test_leaderboard_masks_names_and_ranks_units_per_registered_volunteer",
        "test_dual_report_splits_home_and_elsewhere",
    ),
    "test_workspace": (
        "test_upcoming_events_show_their_fill_rates_and_the_shifts_below_half",
        "test_todays_shifts_show_live_check_in_progress",
        "test_hours_to_approve_and_the_overdue_ones",
        "test_team_requests_newcomers_and_cancellations_in_scope",
    ),
    "test_certificates": (
        "test_the_certificate_pdf_shows_the_title_the_name_the_masked_id_and_the_hours",
        "test_the_period_decides_what_is_counted",
        "test_a_bad_period_or_one_without_approved_hours_is_refused_and_not_logged",
        "test_a_number_dated_after_today_is_refused",
    ),
    "test_event_admin": (
        "test_organiser_creates_an_event_with_two_shifts_and_publishes_it",
        "test_repeat_weekly_three_times_makes_three_drafts_on_the_right_local_dates",
        "test_repeat_on_listed_dates_and_a_bad_date_writes_nothing",
        "test_copy_moves_the_shift_times_by_the_offset",
    ),
    "test_checkin": (
        "test_a_volunteer_token_is_accepted_in_its_window_and_the_previous_one",
        "test_check_in_is_refused_outside_the_window",
        "test_an_offline_scan_keeps_its_own_time_within_limits",
        "test_an_unclosed_attendance_is_closed_at_the_shift_end_and_flagged",
        "test_no_shows_are_marked_after_the_shift_and_release_their_place",
    ),
    "test_rosters": ("test_a_team_roster_lists_its_members_with_their_approved_hours_this_year",),
    "test_registration_counts": ("*",),
}


def is_dated(module: str, function: str) -> bool:
    """Whether the test `function` of tests/`module`.py is in the list."""
    names = DATED.get(module, ())
    return "*" in names or function in names
