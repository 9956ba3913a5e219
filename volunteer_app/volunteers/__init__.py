from flask import Blueprint

bp = Blueprint("volunteers", __name__)

from . import organiser_views, views  # noqa: E402, F401
