"""Service hours: the volunteer's record, corrections, the organiser's approvals."""
