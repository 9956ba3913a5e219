"""Working with no signal: the web app manifest, the service worker, the offline page."""

from flask import Blueprint

bp = Blueprint("offline", __name__)

from . import views  # noqa: E402, F401
