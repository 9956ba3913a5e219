"""The small versioned JSON API the scanner page talks to (session auth + CSRF header)."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import views  # noqa: E402, F401
