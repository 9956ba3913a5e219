"""The organiser's workspace (工作台): the dashboard, rosters, sign-in sheets, exports and
messages to signed-up volunteers. Registered under /organise (see blueprint.py).

Light on purpose: importing one of its modules does not load the views."""
