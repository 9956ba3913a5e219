from flask import Blueprint

bp = Blueprint("volunteers", __name__)

from . import import_views, organiser_views, views  # noqa: E402, F401
