"""Volunteers: profiles, the organisers' search and the roster import.

The blueprint lives in `blueprint.py`, so that importing `volunteers.imports` (the rules of
the roster import) does not import the views.
"""
