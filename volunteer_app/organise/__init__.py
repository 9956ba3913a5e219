"""The organiser's workspace (工作台): the dashboard, rosters, sign-in sheets, exports and
messages to signed-up volunteers. Registered under /organise."""

from flask import Blueprint

bp = Blueprint("organise", __name__)

from . import views  # noqa: E402, F401
